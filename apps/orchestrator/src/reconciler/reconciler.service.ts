import { AppConfig } from '@app/platform';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TaskQueueService } from '../tasks/task-queue.service';
import { ReconcilerMetrics } from './reconciler.metrics';

/** Arbitrary but fixed: every orchestrator replica contends for the same advisory lock. */
export const RECONCILER_LOCK_KEY = 72_620_001;

export interface ReconcileResult {
  /** False when another replica holds the lock (this pass did nothing). */
  ran: boolean;
  examined: number;
  requeued: string[];
}

interface CandidateRow {
  id: string;
  status: 'queued' | 'running';
  request_id: string | null;
}

/**
 * Postgres is the source of truth; Redis may lose a job (down at enqueue time, flushed, failed
 * over). Each pass, one replica at a time (a transaction-scoped advisory lock), finds unfinished
 * tasks that have not moved for a while and adds back any job Redis does not have.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcilerService.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queue: TaskQueueService,
    private readonly config: AppConfig,
    private readonly metrics: ReconcilerMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.get('RECONCILER_ENABLED')) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.reconcileOnce()
        .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'reconciler pass failed'))
        .finally(() => (this.running = null));
    }, this.config.get('RECONCILER_INTERVAL_MS'));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async reconcileOnce(): Promise<ReconcileResult> {
    return this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        RECONCILER_LOCK_KEY,
      ]);
      if (!locked) return { ran: false, examined: 0, requeued: [] };

      const candidates: CandidateRow[] = await manager.query(
        `SELECT id, status, request_id FROM tasks
         WHERE (status = 'queued' AND updated_at < now() - make_interval(secs => $1 / 1000.0))
            OR (status = 'running' AND updated_at < now() - make_interval(secs => $2 / 1000.0))
         ORDER BY updated_at
         LIMIT $3`,
        [
          this.config.get('RECONCILER_GRACE_MS'),
          this.config.get('RECONCILER_STALE_RUNNING_MS'),
          this.config.get('RECONCILER_BATCH_SIZE'),
        ],
      );
      const requeued: string[] = [];
      for (const task of candidates) {
        const state = await this.queue.jobState(task.id);
        // waiting / active / delayed / paused: the job is alive and will run. Anything else needs a new job.
        if (state !== null && state !== 'completed' && state !== 'failed' && state !== 'stuck') continue;
        if (task.status === 'running') {
          await manager.query(
            `UPDATE tasks SET status = 'queued', updated_at = now() WHERE id = $1 AND status = 'running'`,
            [task.id],
          );
        }
        if (await this.queue.requeue(task.id, task.request_id)) {
          requeued.push(task.id);
          this.metrics.requeued.inc({ status: task.status });
        }
      }
      if (requeued.length > 0) {
        this.logger.warn(
          { count: requeued.length, taskIds: requeued.slice(0, 20) },
          'reconciler re-enqueued tasks',
        );
      }
      return { ran: true, examined: candidates.length, requeued };
    });
  }
}
