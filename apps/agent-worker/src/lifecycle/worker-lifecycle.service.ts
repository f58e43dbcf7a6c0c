import { AppConfig, withTimeout } from '@app/platform';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bull';
import { ActiveJobs } from './active-jobs';

/** Bounds each Redis step of the shutdown, so a dead Redis cannot hold it forever. */
const REDIS_STEP_TIMEOUT_MS = 3000;

interface ManagedQueue {
  queue: Queue;
  jobs: ActiveJobs;
}

/**
 * Graceful shutdown of the queues the worker consumes. Each processor hands its queue over
 * (manage) and runs its jobs through the ActiveJobs it gets back. onModuleDestroy is the first
 * hook Nest runs on SIGTERM (the queues themselves close on onApplicationShutdown, later), before
 * Terminus's readiness drain and before the database and Redis connections close, so running jobs
 * can still finish:
 *   1. stop taking jobs: pause every queue locally (Bull stops fetching; the blocking fetch is cut);
 *   2. wait up to WORKER_SHUTDOWN_GRACE_MS for the running jobs;
 *   3. close the queues. Jobs still running after the grace keep their Redis lock until it
 *      expires, then any worker's stalled-job check puts them back: late, never lost.
 * A second SIGTERM exits at once (main.ts).
 */
@Injectable()
export class WorkerLifecycle implements OnModuleDestroy {
  private readonly logger = new Logger(WorkerLifecycle.name);
  private readonly managed: ManagedQueue[] = [];
  private stopping = false;

  constructor(private readonly config: AppConfig) {}

  get draining(): boolean {
    return this.stopping;
  }

  /** Takes a queue into the shutdown sequence; its processor tracks running jobs in what this returns. */
  manage(queue: Queue): ActiveJobs {
    const jobs = new ActiveJobs();
    this.managed.push({ queue, jobs });
    return jobs;
  }

  /** A managed queue by name (readiness pings Redis through the task queue's connection). */
  queue(name: string): Queue | undefined {
    return this.managed.find((m) => m.queue.name === name)?.queue;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    const graceMs = this.config.get('WORKER_SHUTDOWN_GRACE_MS');
    this.logger.log(
      { active: this.activeByQueue(), graceMs },
      'shutting down: no new jobs; waiting for running ones',
    );
    await Promise.all(
      this.managed.map(({ queue }) =>
        withTimeout(queue.pause(true, true), REDIS_STEP_TIMEOUT_MS, 'pause queue').catch((err: unknown) =>
          this.logger.warn({ queue: queue.name, err: String(err) }, 'could not pause the queue'),
        ),
      ),
    );
    const started = Date.now();
    const settled = await Promise.all(this.managed.map(({ jobs }) => jobs.settle(graceMs)));
    const drained = settled.every(Boolean);
    if (drained) {
      this.logger.log({ ms: Date.now() - started }, 'running jobs finished');
    } else {
      this.logger.warn(
        { unfinished: this.activeByQueue(), graceMs },
        'shutdown grace expired: unfinished jobs return through stalled-job recovery',
      );
    }
    await Promise.all(
      this.managed.map(({ queue }) =>
        withTimeout(queue.close(!drained), REDIS_STEP_TIMEOUT_MS, 'close queue').catch((err: unknown) =>
          this.logger.warn({ queue: queue.name, err: String(err) }, 'could not close the queue cleanly'),
        ),
      ),
    );
  }

  private activeByQueue(): Record<string, number> {
    return Object.fromEntries(this.managed.map(({ queue, jobs }) => [queue.name, jobs.size]));
  }
}
