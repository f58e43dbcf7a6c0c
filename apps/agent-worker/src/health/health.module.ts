import { PlatformHealthModule } from '@app/platform';
import { Module } from '@nestjs/common';
import { BreakerHealthIndicator } from '../breaker/breaker.health';
import { LlmModule } from '../llm/llm.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { HealthController } from './health.controller';

@Module({
  imports: [PlatformHealthModule, LlmModule, LifecycleModule],
  controllers: [HealthController],
  providers: [BreakerHealthIndicator],
})
export class HealthModule {}
