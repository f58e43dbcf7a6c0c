import { getTaskWithPost, taskJson } from '@app/db';
import { AppConfig } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { Pool } from 'pg';
import type { JobLogContext } from '../common/job-log-context';
import { WebhookMetrics } from './webhook.metrics';
import {
  DELIVER_WEBHOOK_JOB,
  WEBHOOK_BACKOFF_STRATEGY,
  WEBHOOK_QUEUE,
  type WebhookJobData,
} from '@app/platform';

/**
 * Queues the webhook of a task that reached a terminal state. Called on the transition and again
 * whenever a re-delivered job finds the task already finished (the worker may have died between
 * the status change and this call); the event id is the Bull job id, so re-notifying while the
 * event is pending or recently delivered is a no-op. Receivers still get at-least-once delivery
 * and should de-duplicate on the webhook-id header (the event id).
 */
@Injectable()
export class WebhookService {
  private readonly logger = new Logger(WebhookService.name);
  private warnedNoSecret = false;

  constructor(
    private readonly pool: Pool,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly config: AppConfig,
    private readonly metrics: WebhookMetrics,
  ) {}

  /** Never throws: a webhook problem must not fail the task. */
  async notify(taskId: string, log: JobLogContext): Promise<void> {
    try {
      const found = await getTaskWithPost(this.pool, { id: taskId, tenant: null });
      if (!found) return;
      const { task, post } = found;
      if (!task.callbackUrl || !task.finishedAt) return;
      if (task.status !== 'succeeded' && task.status !== 'failed') return;
      if (!this.config.get('WEBHOOK_SECRET')) {
        this.metrics.deliveries.inc({ outcome: 'skipped' });
        if (!this.warnedNoSecret) {
          this.warnedNoSecret = true;
          this.logger.warn({ ...log }, 'WEBHOOK_SECRET is not set: task webhooks are not sent');
        }
        return;
      }
      const eventId = `${task.id}:${task.status}:${task.finishedAt.getTime()}`;
      // The task as GET /v1/tasks/:id shows it, post included once it succeeded.
      const body = JSON.stringify({
        id: eventId,
        type: `task.${task.status}`,
        created_at: new Date().toISOString(),
        task: taskJson(task, post),
      });
      await this.queue.add(
        DELIVER_WEBHOOK_JOB,
        { eventId, taskId, requestId: log.requestId, url: task.callbackUrl, body },
        {
          jobId: eventId,
          attempts: this.config.get('WEBHOOK_MAX_ATTEMPTS'),
          backoff: { type: WEBHOOK_BACKOFF_STRATEGY },
          // Kept a day so a re-notification of the same event is recognised and dropped.
          removeOnComplete: { age: 24 * 3600, count: 10000 },
          removeOnFail: { count: 10000 },
        },
      );
    } catch (err) {
      this.logger.warn({ ...log, err: String(err) }, 'could not queue the task webhook');
    }
  }
}
