import { AppConfig, WEBHOOK_BACKOFF_MAX_MS, WEBHOOK_BACKOFF_STRATEGY, WEBHOOK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { workerQueueOptions } from '../common/queue-options';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { jitteredExponential } from '../retry/backoff';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhookMetrics } from './webhook.metrics';
import { WebhookProcessor } from './webhook.processor';

/**
 * Webhook deliveries: the dispatcher moves outbox events to a queue of their own (their retries
 * never hold up task processing), the processor sends them and records the outcome.
 */
@Module({
  imports: [
    BullModule.registerQueueAsync({
      name: WEBHOOK_QUEUE,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const base = config.get('WEBHOOK_BACKOFF_BASE_MS');
        return workerQueueOptions(config, {
          [WEBHOOK_BACKOFF_STRATEGY]: (attemptsMade: number) =>
            jitteredExponential(attemptsMade, base, WEBHOOK_BACKOFF_MAX_MS),
        });
      },
    }),
    LifecycleModule,
  ],
  providers: [WebhookMetrics, WebhookDispatcher, WebhookProcessor],
  exports: [WebhookDispatcher],
})
export class WebhooksModule {}
