import type { AppEnv } from '../config/env.schema';

/**
 * LLM calls a worker process keeps in flight when LLM_MAX_IN_FLIGHT is auto (the default). A remote model is
 * I/O: a call costs a socket and a few kB while it waits one to fifteen seconds, so a process
 * holds about a thousand of them (about 500 tasks/s at 1 s a call, two calls a task) within a
 * few hundred MB. The builtin model computes its answer on the event loop: its calls are CPU work
 * and run inside WORKER_CONCURRENCY, so it gets no separate allowance.
 */
export const DEFAULT_LLM_MAX_IN_FLIGHT: Record<AppEnv['LLM_PROVIDER'], number> = {
  openai: 1000,
  builtin: 0,
};

/** The worker's limit on LLM calls in flight: LLM_MAX_IN_FLIGHT, or the provider's default. */
export function llmMaxInFlight(env: Pick<AppEnv, 'LLM_PROVIDER' | 'LLM_MAX_IN_FLIGHT'>): number {
  return env.LLM_MAX_IN_FLIGHT === 'auto'
    ? DEFAULT_LLM_MAX_IN_FLIGHT[env.LLM_PROVIDER]
    : env.LLM_MAX_IN_FLIGHT;
}

/**
 * Jobs one worker process takes from the queue at once: the pipeline slots (WORKER_CONCURRENCY)
 * plus the calls in flight, so that every call slot can be busy while the pipeline slots serve
 * the jobs between calls. Fewer would strand call slots; more would only hold jobs other
 * workers could run.
 */
export function workerJobConcurrency(
  env: Pick<AppEnv, 'WORKER_CONCURRENCY' | 'LLM_PROVIDER' | 'LLM_MAX_IN_FLIGHT'>,
): number {
  return env.WORKER_CONCURRENCY + llmMaxInFlight(env);
}
