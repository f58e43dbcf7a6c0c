import { PlatformHealthModule, TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { LoadHealthIndicator } from '../protection/shedding/load.health';
import { RateLimiterHealthIndicator } from '../protection/rate-limit/rate-limiter.health';
import { HealthController } from './health.controller';

@Module({
  imports: [PlatformHealthModule, BullModule.registerQueue({ name: TASK_QUEUE })],
  controllers: [HealthController],
  providers: [RateLimiterHealthIndicator, LoadHealthIndicator],
})
export class HealthModule {}
