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
import { ApiKeysModule } from './api-keys/api-keys.module';
import { HealthModule } from './health/health.module';
import { InternalPort } from './http/internal-port';
import { ProtectionModule } from './protection/protection.module';
import { ObservabilityModule } from './observability/observability.module';
import { PersonasModule } from './personas/personas.module';
import { PostsModule } from './posts/posts.module';
import { ReconcilerModule } from './reconciler/reconciler.module';
import { TasksModule } from './tasks/tasks.module';
import { UsageModule } from './usage/usage.module';

export const APP_NAME = 'orchestrator';

@Module({})
export class AppModule {
  static forRoot(env?: AppEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformConfigModule.forRoot(env),
        PlatformLoggingModule.forApp(APP_NAME),
        DbModule.forApp(APP_NAME),
        BullModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            url: config.get('REDIS_URL'),
            prefix: config.get('QUEUE_PREFIX'),
            // The orchestrator only adds jobs: its queue opens just the command connection (no
            // blocking or subscriber one). Auto-pipelining sends the job adds of concurrent
            // requests in one write instead of one syscall and round trip each.
            redis: { enableAutoPipelining: true },
          }),
        }),
        MetricsModule.forApp(APP_NAME),
        ObservabilityModule,
        ProtectionModule,
        HealthModule,
        TasksModule,
        PersonasModule,
        PostsModule,
        ReconcilerModule,
        ApiKeysModule,
        UsageModule,
      ],
      providers: [InternalPort],
    };
  }
}
