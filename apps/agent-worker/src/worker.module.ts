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
import { AgentModule } from './agent/agent.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';

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
        MetricsModule.forApp(APP_NAME),
        // First among the features: its WorkerLifecycle drains the queues on shutdown.
        LifecycleModule,
        AgentModule,
        HealthModule,
      ],
    };
  }
}
