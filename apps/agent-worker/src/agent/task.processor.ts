import {
  AppConfig,
  llmMaxInFlight,
  RUN_TASK_JOB,
  TASK_QUEUE,
  workerJobConcurrency,
  type RunTaskJobData,
} from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { LogThrottle } from '../lifecycle/log-throttle';
import { WorkerLifecycle } from '../lifecycle/worker-lifecycle.service';
import { LlmBudgetDeferral, LlmHttpError, LlmUnavailableError } from '../llm/llm.errors';
import { jobLogContext } from '../common/job-log-context';
import {
  BreakerOpenDeferral,
  BudgetDeferral,
  PermanentTaskError,
  RetryableAttemptError,
} from './task-errors';
import { TaskRunnerService, type RunOutcome } from './task-runner.service';
import { TaskMetrics } from './task.metrics';

/** Bull's message for a job whose worker died more than WORKER_MAX_STALLED_COUNT times. */
const STALLED_LIMIT_MESSAGE = 'job stalled more than allowable limit';

function isPermanent(err: Error): boolean {
  return err instanceof PermanentTaskError || (err instanceof LlmHttpError && err.permanent);
}

/**
 * Thin Bull processor: takes run-task jobs, hands them to the runner and turns the outcome into
 * what Bull should do next. Registered with `queue.process` rather than `@Process()` because the
 * concurrency comes from validated config.
 *
 * - transient error: rethrown as RetryableAttemptError; the queue's backoff strategy
 *   (task-backoff.ts) waits, exponential with jitter, at least any Retry-After;
 * - permanent error (guardrail, LLM 4xx other than 408/429, missing persona): the task fails at
 *   once and the job is discarded, so Bull does not retry it;
 * - last attempt: the task fails with last_error; the job stays in Bull's failed set (a dead
 *   letter) until POST /v1/tasks/:id/retry gives it a fresh job;
 * - LLM breaker open, or the provider budget further out than LLM_BUDGET_MAX_WAIT_MS: a
 *   deferral, not an attempt (below).
 *
 * Breaker deferrals. Bull 4 has no "move back to delayed without counting an attempt" (BullMQ's
 * DelayedError), and moving the job ourselves from inside the processor (job.moveToDelayed)
 * races with Bull finishing the same job, which the maintainers warn against (OptimalBits/bull
 * #1546). So a deferral is an ordinary failed run that Bull retries after the backoff
 * strategy's delay (>= the breaker's reset timeout, jittered), with the attempt given back:
 * the job counts its deferrals in job.data.breakerDeferrals (persisted with job.update), and on
 * every run the processor raises the in-memory job.opts.attempts by that count before Bull
 * compares it with attemptsMade (Job#moveToFailed reads this.opts.attempts). The task row keeps
 * the real attempt count: a deferral before the claim changes nothing, one after it gives the
 * claim's attempt back.
 */
/** Queue errors (mostly Redis connection errors) are logged at most this often. */
const QUEUE_ERROR_LOG_INTERVAL_MS = 5000;

@Injectable()
export class TaskProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger(TaskProcessor.name);

  constructor(
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly runner: TaskRunnerService,
    private readonly config: AppConfig,
    private readonly metrics: TaskMetrics,
    private readonly lifecycle: WorkerLifecycle,
  ) {}

  onApplicationBootstrap(): void {
    const active = this.lifecycle.manage(this.queue);
    // Pipeline slots plus calls in flight (PipelineSlots): enough jobs for every slot of both.
    const concurrency = workerJobConcurrency(this.config.values);
    const errors = new LogThrottle(QUEUE_ERROR_LOG_INTERVAL_MS);
    this.queue.on('error', (err: Error) =>
      errors.run((suppressed) => this.logger.warn({ err: err.message, suppressed }, 'task queue error')),
    );
    this.queue.on('failed', (job: Job<RunTaskJobData>, err: Error) => {
      if (err?.message === STALLED_LIMIT_MESSAGE) void this.onStalledTooOften(job, err);
    });
    this.queue
      .process(RUN_TASK_JOB, concurrency, (job: Job<RunTaskJobData>) => active.track(this.handle(job)))
      .catch((err: unknown) => this.logger.error({ err: String(err) }, 'task processing stopped'));
    this.logger.log(
      {
        queue: TASK_QUEUE,
        concurrency,
        pipelineSlots: this.config.get('WORKER_CONCURRENCY'),
        llmMaxInFlight: llmMaxInFlight(this.config.values),
      },
      'processing jobs',
    );
  }

  async handle(job: Job<RunTaskJobData>): Promise<RunOutcome> {
    const deferrals = (job.data.breakerDeferrals ?? 0) + (job.data.budgetDeferrals ?? 0);
    job.opts.attempts = (job.opts.attempts ?? 1) + deferrals;
    const attempt = job.attemptsMade - deferrals + 1;
    try {
      const outcome = await this.runner.run(job);
      this.metrics.completed.inc({ status: outcome });
      if (outcome === 'succeeded') this.metrics.attempts.inc({ result: 'success' });
      return outcome;
    } catch (err) {
      throw await this.onFailure(job, err instanceof Error ? err : new Error(String(err)), attempt);
    }
  }

  /** Records the failure and returns the error Bull should see. */
  private async onFailure(job: Job<RunTaskJobData>, err: Error, attempt: number): Promise<Error> {
    const log = { ...jobLogContext(job), attempt };
    if (err instanceof LlmUnavailableError || err instanceof LlmBudgetDeferral) {
      const breaker = err instanceof LlmUnavailableError;
      const count = breaker ? 'breakerDeferrals' : 'budgetDeferrals';
      const deferrals = (job.data[count] ?? 0) + 1;
      try {
        await job.update({ ...job.data, [count]: deferrals });
        job.opts.attempts = (job.opts.attempts ?? 1) + 1;
        await this.runner.noteDeferral(job, err);
      } catch (updateErr) {
        this.logger.warn({ ...log, err: String(updateErr) }, 'could not record the deferral');
      }
      if (breaker) {
        this.metrics.deferrals.inc();
        this.logger.log(
          { ...log, breakerDeferrals: deferrals },
          'LLM circuit open: job deferred, attempt not counted',
        );
        return new BreakerOpenDeferral(err.message);
      }
      this.metrics.budgetDeferrals.inc();
      this.logger.log(
        { ...log, budgetDeferrals: deferrals, delayMs: err.delayMs },
        'LLM budget too far out: job deferred, attempt not counted',
      );
      return new BudgetDeferral(err.message, err.delayMs);
    }

    const permanent = isPermanent(err);
    const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      await this.runner.recordFailure(job, err, final);
    } catch (recordErr) {
      this.logger.warn({ ...log, err: String(recordErr) }, 'could not record the failed attempt');
    }
    if (permanent) {
      // Bull 4's Job#discard is synchronous (its typings say Promise).
      void job.discard();
      this.metrics.attempts.inc({ result: 'permanent_error' });
      this.metrics.completed.inc({ status: 'failed' });
      this.logger.warn({ ...log, err: err.message }, 'task failed permanently');
      return err;
    }
    if (final) {
      this.metrics.attempts.inc({ result: 'final_error' });
      this.metrics.completed.inc({ status: 'failed' });
      this.logger.warn({ ...log, err: err.message }, 'task failed on its last attempt');
      return err;
    }
    this.metrics.attempts.inc({ result: 'transient_error' });
    this.metrics.retries.inc();
    this.logger.warn({ ...log, err: err.message }, 'task attempt failed; will retry');
    const retryAfterMs = err instanceof LlmHttpError ? err.retryAfterMs : null;
    return new RetryableAttemptError(err.message, attempt, retryAfterMs, { cause: err });
  }

  /** Bull gave up on a job whose worker kept dying: fail its task instead of leaving it running. */
  private async onStalledTooOften(job: Job<RunTaskJobData> | null, err: Error): Promise<void> {
    if (!job) return;
    try {
      await this.runner.recordFailure(
        job,
        new Error(`worker died while running the task (${err.message})`),
        true,
      );
      this.metrics.completed.inc({ status: 'failed' });
      this.logger.error({ ...jobLogContext(job) }, 'task failed: its worker died too often');
    } catch (recordErr) {
      this.logger.warn({ ...jobLogContext(job), err: String(recordErr) }, 'could not fail the stalled task');
    }
  }
}
