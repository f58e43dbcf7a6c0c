import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

@Injectable()
export class WebhookMetrics {
  readonly deliveries: Counter<'outcome'>;
  readonly dispatches: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.deliveries = new Counter({
      name: 'webhook_deliveries_total',
      help: 'Task webhook deliveries: delivered, retry (failed, will retry), failed (given up), skipped (no WEBHOOK_SECRET).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.dispatches = new Counter({
      name: 'webhook_dispatches_total',
      help: 'Webhook events moved from the outbox to the webhook queue: queued, or queue_error (left pending for the next pass).',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }
}
