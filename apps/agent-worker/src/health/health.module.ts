import { AppConfig, RedisHealthIndicator, TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
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
  providers: [RedisHealthIndicator],
})
export class HealthModule {}
