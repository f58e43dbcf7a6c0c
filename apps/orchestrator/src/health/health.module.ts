import { AppConfig, RedisHealthIndicator, TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoadHealthIndicator } from '../http/load.health';
import { RateLimiterHealthIndicator } from '../rate-limit/rate-limiter.health';
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
    BullModule.registerQueue({ name: TASK_QUEUE }),
  ],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, RateLimiterHealthIndicator, LoadHealthIndicator],
})
export class HealthModule {}
