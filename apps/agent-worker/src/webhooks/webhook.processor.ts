import { recordWebhookAttempt } from '@app/db';
import { AppConfig, webhookSigningKeys } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { Pool } from 'pg';
import { LogThrottle } from '../lifecycle/log-throttle';
import { WorkerLifecycle } from '../lifecycle/worker-lifecycle.service';
import { DELIVER_WEBHOOK_JOB, WEBHOOK_QUEUE, type WebhookJobData } from '@app/platform';
import { WebhookMetrics } from './webhook.metrics';
import { sendWebhook, WebhookDeliveryError } from './webhook-sender';
import {
  signWebhook,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from './webhook-signature';

/** Queue errors (mostly Redis connection errors) are logged at most this often. */
const QUEUE_ERROR_LOG_INTERVAL_MS = 5000;

/**
 * Delivers task webhooks and records each try on its outbox event: delivered, dead (refused for
 * good, or the last try failed) or counted for the retry. A failure here only ever affects the
 * webhook, never the task.
 */
@Injectable()
export class WebhookProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger(WebhookProcessor.name);
  /** WEBHOOK_SECRET's keys, decoded once (the env schema has validated them). */
  private readonly keys: Buffer[];

  constructor(
    private readonly pool: Pool,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly config: AppConfig,
    private readonly metrics: WebhookMetrics,
    private readonly lifecycle: WorkerLifecycle,
  ) {
    this.keys = webhookSigningKeys(config.get('WEBHOOK_SECRET'));
  }

  onApplicationBootstrap(): void {
    const active = this.lifecycle.manage(this.queue);
    const errors = new LogThrottle(QUEUE_ERROR_LOG_INTERVAL_MS);
    this.queue.on('error', (err: Error) =>
      errors.run((suppressed) => this.logger.warn({ err: err.message, suppressed }, 'webhook queue error')),
    );
    this.queue
      .process(DELIVER_WEBHOOK_JOB, this.config.get('WEBHOOK_CONCURRENCY'), (job: Job<WebhookJobData>) =>
        active.track(this.deliver(job)),
      )
      .catch((err: unknown) => this.logger.error({ err: String(err) }, 'webhook processing stopped'));
  }

  async deliver(job: Job<WebhookJobData>): Promise<void> {
    const { eventId, taskId, requestId, url, body } = job.data;
    const log = { taskId, requestId, eventId, attempt: job.attemptsMade + 1 };
    if (this.keys.length === 0) {
      this.metrics.deliveries.inc({ outcome: 'skipped' });
      return;
    }
    // A fresh timestamp per try (the receiver's replay window applies to each delivery); the
    // webhook-id is the event's, the same on every try, for the receiver to de-duplicate on.
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const status = await sendWebhook(
        url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'agent-platform-webhooks/1',
          [WEBHOOK_ID_HEADER]: eventId,
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(this.keys, eventId, timestamp, body),
        },
        {
          timeoutMs: this.config.get('WEBHOOK_TIMEOUT_MS'),
          allowPrivateAddresses: this.config.get('WEBHOOK_ALLOW_PRIVATE_ADDRESSES'),
        },
      );
      this.metrics.deliveries.inc({ outcome: 'delivered' });
      this.logger.log({ ...log, status }, 'webhook delivered');
      await this.record(eventId, job, 'delivered', null, log);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const permanent = error instanceof WebhookDeliveryError && error.permanent;
      const last = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (permanent) void job.discard();
      this.metrics.deliveries.inc({ outcome: last ? 'failed' : 'retry' });
      this.logger.warn(
        { ...log, err: error.message, permanent },
        last ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry',
      );
      await this.record(eventId, job, last ? 'dead' : 'retry', error.message, log);
      throw error;
    }
  }

  /**
   * A try's outcome on the outbox event. Not recording it does not resend anything: the event
   * stays pending, and a later re-dispatch finds its job still kept by the queue.
   */
  private async record(
    eventId: string,
    job: Job<WebhookJobData>,
    outcome: 'delivered' | 'dead' | 'retry',
    error: string | null,
    log: Record<string, unknown>,
  ): Promise<void> {
    try {
      await recordWebhookAttempt(this.pool, {
        id: eventId,
        attempts: job.attemptsMade + 1,
        outcome,
        error: error?.slice(0, 2000) ?? null,
      });
    } catch (err) {
      this.logger.warn({ ...log, outcome, err: String(err) }, 'could not record the webhook outcome');
    }
  }
}
