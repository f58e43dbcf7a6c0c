import { PlatformHealthModule } from '@app/platform';
import { Module } from '@nestjs/common';
import { BreakerHealthIndicator } from '../breaker/breaker.health';
import { LlmModule } from '../llm/llm.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { WorkerQueuesModule } from '../queues/worker-queues.module';
import { HealthController } from './health.controller';

@Module({
  imports: [PlatformHealthModule, WorkerQueuesModule, LlmModule, LifecycleModule],
  controllers: [HealthController],
  providers: [BreakerHealthIndicator],
})
export class HealthModule {}
