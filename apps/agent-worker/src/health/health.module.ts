import { AppConfig, RedisHealthIndicator } from '@app/platform';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { BreakerHealthIndicator } from '../breaker/breaker.health';
import { LlmModule } from '../llm/llm.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { WorkerQueuesModule } from '../queues/worker-queues.module';
import { HealthController } from './health.controller';

@Module({
  imports: [
    TerminusModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        gracefulShutdownTimeoutMs: config.get('SHUTDOWN_GRACE_MS'),
        errorLogStyle: 'json',
      }),
    }),
    WorkerQueuesModule,
    LlmModule,
    LifecycleModule,
  ],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, BreakerHealthIndicator],
})
export class HealthModule {}
