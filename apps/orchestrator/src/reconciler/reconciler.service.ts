import { findTasksToReconcile, requeueStaleTask, withReconcilerLock } from '@app/db';
import { AppConfig } from '@app/platform';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { TaskQueueService } from '../tasks/task-queue.service';
import { ReconcilerMetrics } from './reconciler.metrics';

export interface ReconcileResult {
  /** False when another replica holds the lock (this pass did nothing). */
  ran: boolean;
  examined: number;
  requeued: string[];
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
    private readonly pool: Pool,
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
    const result = await withReconcilerLock(this.pool, async (tx) => {
      const candidates = await findTasksToReconcile(tx, {
        queuedGraceMs: this.config.get('RECONCILER_GRACE_MS'),
        staleRunningMs: this.config.get('RECONCILER_STALE_RUNNING_MS'),
        limit: this.config.get('RECONCILER_BATCH_SIZE'),
      });
      const requeued: string[] = [];
      for (const task of candidates) {
        const state = await this.queue.jobState(task.id);
        // waiting / active / delayed / paused: the job is alive and will run. Anything else needs a new job.
        if (state !== null && state !== 'completed' && state !== 'failed' && state !== 'stuck') continue;
        if (task.status === 'running') await requeueStaleTask(tx, { id: task.id });
        if (await this.queue.requeue(task.id, task.requestId)) {
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
    return result ?? { ran: false, examined: 0, requeued: [] };
  }
}
