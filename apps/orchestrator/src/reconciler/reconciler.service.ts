import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  acquireReconcilerLease,
  findTasksToReconcile,
  releaseReconcilerLease,
  requeueLostTask,
  saveReconcilerCursor,
  type ReconcileCandidate,
  type ReconcileCursor,
} from '@app/db';
import { AppConfig } from '@app/platform';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { TaskQueueService, type JobState } from '../tasks/task-queue.service';
import { ReconcilerMetrics } from './reconciler.metrics';

export interface ReconcileResult {
  /** False when another replica holds the lease (this pass did nothing). */
  ran: boolean;
  examined: number;
  requeued: string[];
  /** True when the sweep reached the newest candidate (the next pass starts from the oldest again). */
  swept: boolean;
  /** True when the pass stopped because Redis did not answer in time (it resumes on the next pass). */
  redisDown: boolean;
}

/** A pass stops sweeping after this long and the next one resumes from its cursor. */
export const RECONCILER_PASS_BUDGET_MS = 20_000;
/**
 * The lease outlives the longest pass: the budget, plus the Redis calls then in flight (each
 * within ENQUEUE_TIMEOUT_MS, at most 30 s) and one statement (DB_STATEMENT_TIMEOUT_MS).
 */
const LEASE_TTL_MS = 90_000;
/** Tasks without a live job given a new one at once (their Redis calls share one connection, pipelined). */
const CONCURRENCY = 16;

/**
 * Postgres is the source of truth; Redis may lose a job (down at enqueue time, flushed, failed
 * over, restarted without persistence). Each pass, one replica at a time (a lease row, see
 * acquireReconcilerLease) sweeps every unfinished task that has not moved for a while, page by
 * page with a keyset cursor, and gives a new job to each one whose job is missing, finished or
 * stuck in no list. No transaction or lock is held while Redis is called, and every Redis call
 * has a deadline: with Redis down a pass ends after one failed call.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcilerService.name);
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** Set at shutdown: a pass in progress stops after its current page (the cursor keeps its place). */
  private stopping = false;

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
    this.stopping = true;
    await this.running;
  }

  async reconcileOnce(): Promise<ReconcileResult> {
    const lease = await acquireReconcilerLease(this.pool, { holder: this.holder, ttlMs: LEASE_TTL_MS });
    const result: ReconcileResult = { ran: false, examined: 0, requeued: [], swept: false, redisDown: false };
    if (!lease) return result;
    result.ran = true;
    try {
      await this.sweep(lease.cursor, result);
    } finally {
      await releaseReconcilerLease(this.pool, { holder: this.holder });
    }
    if (result.requeued.length > 0) {
      this.logger.warn(
        { count: result.requeued.length, taskIds: result.requeued.slice(0, 20) },
        'reconciler re-enqueued tasks',
      );
    }
    if (result.redisDown) this.logger.warn('reconciler pass stopped: Redis did not answer in time');
    return result;
  }

  private async sweep(from: ReconcileCursor | null, result: ReconcileResult): Promise<void> {
    if (!(await this.queue.ping())) {
      result.redisDown = true;
      return;
    }
    const started = Date.now();
    const limit = this.config.get('RECONCILER_BATCH_SIZE');
    let cursor = from;
    for (;;) {
      const page = await findTasksToReconcile(this.pool, {
        queuedGraceMs: this.config.get('RECONCILER_GRACE_MS'),
        lostRunningMs: this.lostRunningMs(),
        staleRunningMs: this.config.get('RECONCILER_STALE_RUNNING_MS'),
        after: cursor,
        limit,
      });
      if (!(await this.examine(page, result))) {
        // Redis failed mid-page: the cursor stays before this page, so nothing is skipped.
        result.redisDown = true;
        return;
      }
      cursor = page.length < limit ? null : page[page.length - 1].cursor;
      const held = await saveReconcilerCursor(this.pool, {
        holder: this.holder,
        ttlMs: LEASE_TTL_MS,
        cursor,
      });
      if (cursor === null) result.swept = true;
      if (cursor === null || !held || this.stopping) return;
      if (Date.now() - started > RECONCILER_PASS_BUDGET_MS) return;
    }
  }

  /**
   * Examines a page: every job state in one round trip, then a new job for each task without a
   * live one, CONCURRENCY at a time. False as soon as a Redis call failed.
   */
  private async examine(page: ReconcileCandidate[], result: ReconcileResult): Promise<boolean> {
    let states: Map<string, JobState | null>;
    try {
      states = await this.queue.jobStates(page.map((task) => task.id));
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'reconciler could not reach Redis');
      return false;
    }
    result.examined += page.length;
    const lost = page.filter((task) => this.needsJob(task, states.get(task.id) ?? null));
    let next = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (!failed && next < lost.length) {
        const task = lost[next++];
        try {
          await this.revive(task, states.get(task.id) ?? null, result);
        } catch (err) {
          // One line per pass: the other lanes fail for the same reason.
          if (!failed)
            this.logger.warn({ taskId: task.id, err: String(err) }, 'reconciler could not reach Redis');
          failed = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, lost.length) }, lane));
    return !failed;
  }

  /**
   * waiting / active / delayed / paused: the job is alive and will run. A missing (or stuck) job
   * beside a task running for a whole lock duration: no worker holds it. A finished job beside a
   * running task is left to the stale limit.
   */
  private needsJob(task: ReconcileCandidate, state: JobState | null): boolean {
    if (state !== null && state !== 'completed' && state !== 'failed' && state !== 'stuck') return false;
    const lost = state === null || state === 'stuck';
    return task.status !== 'running' || lost || task.staleRunning;
  }

  /** Gives the task a new job and counts it in `result`. Throws when Redis does not answer in time. */
  private async revive(
    task: ReconcileCandidate,
    state: JobState | null,
    result: ReconcileResult,
  ): Promise<void> {
    // A job in no list stays there (adding its id again is a no-op): it goes first. Bull removes
    // only an unlocked job, so one a worker still holds is left alone.
    if (state !== null && !(await this.queue.discardJob(task.id))) return;
    if (task.status === 'running') {
      const lost = state === null || state === 'stuck';
      const olderThanMs = lost ? this.lostRunningMs() : this.config.get('RECONCILER_STALE_RUNNING_MS');
      if (!(await requeueLostTask(this.pool, { id: task.id, olderThanMs }))) return;
      // Queued again from here on, even if the add below fails (a later pass adds the job).
      this.count(task, result);
      await this.queue.addJob(task.id, task.requestId);
    } else {
      await this.queue.addJob(task.id, task.requestId);
      this.count(task, result);
    }
  }

  private count(task: ReconcileCandidate, result: ReconcileResult): void {
    result.requeued.push(task.id);
    this.metrics.requeued.inc({ status: task.status });
  }

  /**
   * A live run's job is active in Redis and locked (the lock is renewed at half its duration),
   * so a running task not moved for one lock duration whose job is gone lost it. Never later than
   * the stale limit.
   */
  private lostRunningMs(): number {
    return Math.min(
      this.config.get('WORKER_LOCK_DURATION_MS'),
      this.config.get('RECONCILER_STALE_RUNNING_MS'),
    );
  }
}
