import { Module } from '@nestjs/common';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { WorkerQueuesModule } from '../queues/worker-queues.module';
import { WebhookMetrics } from './webhook.metrics';
import { WebhookProcessor } from './webhook.processor';
import { WebhookService } from './webhook.service';

@Module({
  imports: [WorkerQueuesModule, LifecycleModule],
  providers: [WebhookMetrics, WebhookService, WebhookProcessor],
  exports: [WebhookService],
})
export class WebhooksModule {}
