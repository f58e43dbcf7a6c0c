import { DbModule } from '@app/db';
import {
  AppConfig,
  MetricsModule,
  PlatformConfigModule,
  PlatformLoggingModule,
  TASK_QUEUE,
  type AppEnv,
} from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { TaskProcessor } from './agent/task.processor';
import { TaskRunnerService } from './agent/task-runner.service';
import { HealthModule } from './health/health.module';

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
        BullModule.registerQueue({ name: TASK_QUEUE }),
        MetricsModule.forApp(APP_NAME),
        HealthModule,
      ],
      providers: [TaskRunnerService, TaskProcessor],
    };
  }
}
