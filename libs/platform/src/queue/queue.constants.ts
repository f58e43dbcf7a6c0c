import type { JobOptions } from 'bull';

/** The one Bull queue agent tasks travel through. */
export const TASK_QUEUE = 'agent-tasks';

/** Job name for "run this task"; the job id is always the task id, so adding twice is a no-op. */
export const RUN_TASK_JOB = 'run-task';

export interface RunTaskJobData {
  taskId: string;
  /** X-Request-ID of the request that created (or retried) the task, carried into the worker's logs. */
  requestId: string | null;
  /**
   * Set by the worker: how often the job was put back because the LLM circuit breaker was open.
   * Those runs are not attempts (see apps/agent-worker, "breaker deferrals").
   */
  breakerDeferrals?: number;
  /** Set by the worker: how often the job was put back to wait for the provider budget (not attempts either). */
  budgetDeferrals?: number;
}

export const TASK_JOB_ATTEMPTS = 5;

/**
 * Name of the worker's Bull backoff strategy for run-task jobs (exponential with jitter,
 * honouring Retry-After and breaker deferrals); registered in the worker's queue settings.
 */
export const TASK_BACKOFF_STRATEGY = 'task-backoff';

/**
 * Options for every run-task job. Completed jobs are removed (Postgres keeps the result);
 * failed jobs stay for inspection and retry, capped so Redis cannot grow without bound.
 */
export function runTaskJobOptions(taskId: string): JobOptions {
  return {
    jobId: taskId,
    attempts: TASK_JOB_ATTEMPTS,
    backoff: { type: TASK_BACKOFF_STRATEGY },
    removeOnComplete: true,
    removeOnFail: { count: 10000 },
  };
}

/**
 * Redis pub/sub channel on which the orchestrator names (message: the task id) a running task it
 * has just cancelled: every worker listens on this one channel and aborts the task's LLM call if it
 * runs it.
 */
export function taskCancelChannel(prefix: string): string {
  return `${prefix}:task-cancel`;
}

/** Redis pub/sub channel on which a task's terminal state is announced (long-poll wake-up). */
export function taskEventsChannel(prefix: string, taskId: string): string {
  return `${prefix}:task-events:${taskId}`;
}
