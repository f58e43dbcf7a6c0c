import { AppConfig, TASK_QUEUE, withTimeout } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bull';
import { WEBHOOK_QUEUE } from '../webhooks/webhook.constants';
import { ActiveJobs } from './active-jobs';

/** Bounds each Redis step of the shutdown, so a dead Redis cannot hold it forever. */
const REDIS_STEP_TIMEOUT_MS = 3000;

/**
 * Graceful shutdown of the worker's queues. onModuleDestroy is the first hook Nest runs on
 * SIGTERM (root module first), before Terminus's readiness drain and before the database and
 * Redis connections close, so running jobs can still finish:
 *   1. stop taking jobs: pause both queues locally (Bull stops fetching; the blocking fetch is cut);
 *   2. wait up to WORKER_SHUTDOWN_GRACE_MS for the running jobs;
 *   3. close the queues. Jobs still running after the grace keep their Redis lock until it
 *      expires, then any worker's stalled-job check puts them back: late, never lost.
 * A second SIGTERM exits at once (main.ts).
 */
@Injectable()
export class WorkerLifecycle implements OnModuleDestroy {
  private readonly logger = new Logger(WorkerLifecycle.name);
  readonly tasks = new ActiveJobs();
  readonly webhooks = new ActiveJobs();
  private stopping = false;

  constructor(
    @InjectQueue(TASK_QUEUE) private readonly taskQueue: Queue,
    @InjectQueue(WEBHOOK_QUEUE) private readonly webhookQueue: Queue,
    private readonly config: AppConfig,
  ) {}

  get draining(): boolean {
    return this.stopping;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    const queues = [this.taskQueue, this.webhookQueue];
    const graceMs = this.config.get('WORKER_SHUTDOWN_GRACE_MS');
    this.logger.log(
      { activeTasks: this.tasks.size, activeWebhooks: this.webhooks.size, graceMs },
      'shutting down: no new jobs; waiting for running ones',
    );
    await Promise.all(
      queues.map((q) =>
        withTimeout(q.pause(true, true), REDIS_STEP_TIMEOUT_MS, 'pause queue').catch((err: unknown) =>
          this.logger.warn({ queue: q.name, err: String(err) }, 'could not pause the queue'),
        ),
      ),
    );
    const started = Date.now();
    const [tasksDone, webhooksDone] = await Promise.all([
      this.tasks.settle(graceMs),
      this.webhooks.settle(graceMs),
    ]);
    const drained = tasksDone && webhooksDone;
    if (drained) {
      this.logger.log({ ms: Date.now() - started }, 'running jobs finished');
    } else {
      this.logger.warn(
        { unfinishedTasks: this.tasks.size, unfinishedWebhooks: this.webhooks.size, graceMs },
        'shutdown grace expired: unfinished jobs return through stalled-job recovery',
      );
    }
    await Promise.all(
      queues.map((q) =>
        withTimeout(q.close(!drained), REDIS_STEP_TIMEOUT_MS, 'close queue').catch((err: unknown) =>
          this.logger.warn({ queue: q.name, err: String(err) }, 'could not close the queue cleanly'),
        ),
      ),
    );
  }
}
