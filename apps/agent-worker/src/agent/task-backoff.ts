import { AppConfig } from '@app/platform';
import { breakerDeferralDelay, jitteredExponential } from '../retry/backoff';
import { BreakerOpenDeferral, BudgetDeferral, RetryableAttemptError } from './task-errors';

/**
 * The task queue's backoff strategy (named in every run-task job's options). Bull passes the
 * error the processor threw, so the delay follows what happened:
 *  - breaker open: at least the breaker's reset timeout (the job was not attempted);
 *  - provider budget too far out: when the budget has room for the call again (not attempted);
 *  - failed attempt: exponential with jitter on the real attempt number (deferrals excluded),
 *    never shorter than the downstream's Retry-After.
 */
export function taskBackoff(config: AppConfig): (attemptsMade: number, err: Error) => number {
  const base = config.get('WORKER_BACKOFF_BASE_MS');
  const max = config.get('WORKER_BACKOFF_MAX_MS');
  return (attemptsMade, err) => {
    if (err instanceof BreakerOpenDeferral)
      return breakerDeferralDelay(config.get('LLM_BREAKER_RESET_TIMEOUT_MS'));
    // Up to a tenth later than the budget's time, so deferred jobs do not all return at once.
    if (err instanceof BudgetDeferral) return Math.round(err.delayMs * (1 + Math.random() / 10));
    if (err instanceof RetryableAttemptError) {
      return Math.max(jitteredExponential(err.attempt, base, max), err.retryAfterMs ?? 0);
    }
    return jitteredExponential(attemptsMade, base, max);
  };
}
