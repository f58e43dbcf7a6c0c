import { TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Global, Module } from '@nestjs/common';
import { HttpMetrics } from './http.metrics';
import { QueueMetrics } from './queue.metrics';
import { RequestTelemetry } from './request-telemetry';

/** The orchestrator's own metrics, on the app's registry (MetricsModule); DB pool metrics come from DbModule. */
@Global()
@Module({
  imports: [BullModule.registerQueue({ name: TASK_QUEUE })],
  providers: [HttpMetrics, QueueMetrics, RequestTelemetry],
  exports: [HttpMetrics, RequestTelemetry],
})
export class ObservabilityModule {}
