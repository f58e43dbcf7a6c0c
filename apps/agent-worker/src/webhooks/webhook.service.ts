import { runSql } from '@app/db';
import { AppConfig } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import type { JobLogContext } from '../common/job-log-context';
import { WebhookMetrics } from './webhook.metrics';
import {
  DELIVER_WEBHOOK_JOB,
  WEBHOOK_BACKOFF_STRATEGY,
  WEBHOOK_QUEUE,
  type WebhookJobData,
} from '@app/platform';

interface TaskSnapshotRow {
  id: string;
  status: string;
  persona_id: string;
  task_type: string;
  attempts: number;
  last_error: string | null;
  request_id: string | null;
  callback_url: string | null;
  created_at: Date;
  finished_at: Date | null;
  post_id: string | null;
  hook: string | null;
  body: string | null;
  model: string | null;
  tokens_used: number | null;
  latency_ms: number | null;
}

const SNAPSHOT_SQL = `
  SELECT t.id, t.status, t.persona_id, t.task_type, t.attempts, t.last_error, t.request_id, t.callback_url,
         t.created_at, t.finished_at,
         p.id AS post_id, p.hook, p.body, p.model, p.tokens_used, p.latency_ms
  FROM tasks t LEFT JOIN posts p ON p.task_id = t.id
  WHERE t.id = $1`;

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
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookJobData>,
    private readonly config: AppConfig,
    private readonly metrics: WebhookMetrics,
  ) {}

  /** Never throws: a webhook problem must not fail the task. */
  async notify(taskId: string, log: JobLogContext): Promise<void> {
    try {
      const { rows } = await runSql<TaskSnapshotRow>(this.dataSource, SNAPSHOT_SQL, [taskId]);
      const task = rows[0];
      if (!task?.callback_url || !task.finished_at) return;
      if (task.status !== 'succeeded' && task.status !== 'failed') return;
      if (!this.config.get('WEBHOOK_SECRET')) {
        this.metrics.deliveries.inc({ outcome: 'skipped' });
        if (!this.warnedNoSecret) {
          this.warnedNoSecret = true;
          this.logger.warn({ ...log }, 'WEBHOOK_SECRET is not set: task webhooks are not sent');
        }
        return;
      }
      const eventId = `${task.id}:${task.status}:${task.finished_at.getTime()}`;
      const body = JSON.stringify({
        id: eventId,
        type: `task.${task.status}`,
        created_at: new Date().toISOString(),
        task: {
          id: task.id,
          status: task.status,
          persona_id: task.persona_id,
          task_type: task.task_type,
          attempts: task.attempts,
          last_error: task.last_error,
          request_id: task.request_id,
          created_at: task.created_at.toISOString(),
          finished_at: task.finished_at.toISOString(),
          post: task.post_id
            ? {
                id: task.post_id,
                hook: task.hook,
                body: task.body,
                model: task.model,
                tokens_used: task.tokens_used,
                latency_ms: task.latency_ms,
              }
            : null,
        },
      });
      await this.queue.add(
        DELIVER_WEBHOOK_JOB,
        { eventId, taskId, requestId: log.requestId, url: task.callback_url, body },
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
