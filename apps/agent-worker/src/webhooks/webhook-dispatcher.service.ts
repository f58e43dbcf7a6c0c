import { claimWebhookEvents, releaseWebhookEvents, type ClaimedWebhookEvent } from '@app/db';
import {
  AppConfig,
  DELIVER_WEBHOOK_JOB,
  WEBHOOK_BACKOFF_STRATEGY,
  WEBHOOK_QUEUE,
  withTimeout,
  type WebhookJobData,
} from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bull';
import { Pool } from 'pg';
import { LogThrottle } from '../lifecycle/log-throttle';
import { WebhookMetrics } from './webhook.metrics';

/** How often a worker looks for pending webhook events (a worker's own transitions kick it at once). */
export const WEBHOOK_DISPATCH_INTERVAL_MS = 1000;
/** Events one pass claims; a full pass is followed by another at once. */
export const WEBHOOK_DISPATCH_BATCH = 100;
/**
 * A claimed event is due again after this long, even when its job was queued: a job lost with
 * Redis (restarted empty) is queued again then. Adding it again while the job exists is a no-op.
 */
export const WEBHOOK_REDISPATCH_AFTER_MS = 5 * 60 * 1000;
/** A queue.add that has not answered by then counts as failed (ioredis queues commands while Redis is down). */
export const WEBHOOK_ADD_TIMEOUT_MS = 2000;
/** An event whose job could not be queued is due again after this long. */
export const WEBHOOK_REQUEUE_DELAY_MS = 1000;
const ERROR_LOG_INTERVAL_MS = 5000;

/**
 * Moves webhook events from the outbox (webhook_events, written by each terminal transition) to
 * the webhook queue. The job id is the event id, so adding an event twice (two workers, a
 * re-dispatch after the lease) queues it once. A failed add leaves the event pending for the
 * next pass: nothing is lost while Redis is down. The webhook processor records the outcome.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly errors = new LogThrottle(ERROR_LOG_INTERVAL_MS);
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private rerun = false;
  private stopped = true;

  constructor(
    private readonly pool: Pool,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly config: AppConfig,
    private readonly metrics: WebhookMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.get('WEBHOOK_SECRET')) {
      // Events stay pending until a worker that can sign them runs.
      this.logger.warn('WEBHOOK_SECRET is not set: webhook events stay pending and are not sent');
      return;
    }
    this.stopped = false;
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  /** Dispatches now rather than at the next tick: a transition of this worker wrote an event. */
  kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.rerun = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pass = this.dispatch()
        .catch(() => false)
        .then((full) => {
          this.pass = null;
          const again = full || this.rerun;
          this.rerun = false;
          this.schedule(again ? 0 : WEBHOOK_DISPATCH_INTERVAL_MS);
        });
    }, delayMs);
  }

  /** One pass; true when it claimed a full batch (more may be waiting). Never throws. */
  async dispatch(): Promise<boolean> {
    let events: ClaimedWebhookEvent[];
    try {
      events = await claimWebhookEvents(this.pool, {
        limit: WEBHOOK_DISPATCH_BATCH,
        leaseMs: WEBHOOK_REDISPATCH_AFTER_MS,
      });
    } catch (err) {
      this.warn('could not claim webhook events', err);
      return false;
    }
    const failed: string[] = [];
    await Promise.all(
      events.map(async (event) => {
        try {
          await withTimeout(this.enqueue(event), WEBHOOK_ADD_TIMEOUT_MS, 'queue webhook');
          this.metrics.dispatches.inc({ outcome: 'queued' });
        } catch (err) {
          failed.push(event.id);
          this.metrics.dispatches.inc({ outcome: 'queue_error' });
          this.warn('could not queue a webhook; it stays pending', err);
        }
      }),
    );
    if (failed.length > 0) {
      try {
        await releaseWebhookEvents(this.pool, { ids: failed, delayMs: WEBHOOK_REQUEUE_DELAY_MS });
      } catch (err) {
        // Their lease runs out instead (WEBHOOK_REDISPATCH_AFTER_MS): later, never lost.
        this.warn('could not release webhook events', err);
      }
    }
    return events.length === WEBHOOK_DISPATCH_BATCH;
  }

  private async enqueue(event: ClaimedWebhookEvent): Promise<void> {
    // The exact bytes sent (and signed) on every try of this event.
    const body = JSON.stringify({
      id: event.id,
      type: event.type,
      created_at: event.createdAt.toISOString(),
      task: event.payload,
    });
    await this.queue.add(
      DELIVER_WEBHOOK_JOB,
      {
        eventId: event.id,
        taskId: event.taskId,
        requestId: event.payload.request_id,
        url: event.payload.callback_url ?? '',
        body,
      },
      {
        jobId: event.id,
        attempts: this.config.get('WEBHOOK_MAX_ATTEMPTS'),
        backoff: { type: WEBHOOK_BACKOFF_STRATEGY },
        // Kept a day: a re-dispatch of the same event meanwhile is recognised and dropped.
        removeOnComplete: { age: 24 * 3600, count: 10000 },
        removeOnFail: { count: 10000 },
      },
    );
  }

  private warn(message: string, err: unknown): void {
    this.errors.run((suppressed) => this.logger.warn({ err: String(err), suppressed }, message));
  }
}
