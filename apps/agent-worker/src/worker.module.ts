import { DbModule } from '@app/db';
import {
  AppConfig,
  MetricsModule,
  PlatformConfigModule,
  PlatformLoggingModule,
  type AppEnv,
} from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { GuardrailService } from './agent/guardrail.service';
import { TaskProcessor } from './agent/task.processor';
import { TaskRunnerService } from './agent/task-runner.service';
import { TaskMetrics } from './agent/task.metrics';
import { TaskWriteBatcher } from './agent/task-write.batcher';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LlmModule } from './llm/llm.module';
import { WorkerQueuesModule } from './queues/worker-queues.module';
import { WebhooksModule } from './webhooks/webhooks.module';

export const APP_NAME = 'agent-worker';

@Module({})
export class WorkerModule {
  static forRoot(env?: AppEnv): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        PlatformConfigModule.forRoot(env),
        PlatformLoggingModule.forApp(APP_NAME),
        DbModule.forApp(APP_NAME),
        BullModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            url: config.get('REDIS_URL'),
            prefix: config.get('QUEUE_PREFIX'),
          }),
        }),
        WorkerQueuesModule,
        MetricsModule.forApp(APP_NAME),
        LlmModule,
        LifecycleModule,
        WebhooksModule,
        HealthModule,
      ],
      providers: [TaskMetrics, GuardrailService, TaskWriteBatcher, TaskRunnerService, TaskProcessor],
    };
  }
}
