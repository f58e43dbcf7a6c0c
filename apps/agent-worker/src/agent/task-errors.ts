/**
 * A failure that no retry can fix (the input or the configuration is wrong): the task fails at
 * once with this message as its last_error, and the job is discarded instead of retried.
 */
export class PermanentTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentTaskError';
  }
}

export class GuardrailRejectedError extends PermanentTaskError {
  constructor(message: string) {
    super(`guardrail rejected the ${message}`);
    this.name = 'GuardrailRejectedError';
  }
}

export class PersonaMissingError extends PermanentTaskError {
  constructor(personaId: string) {
    super(`persona ${personaId} does not exist`);
    this.name = 'PersonaMissingError';
  }
}

/**
 * Thrown back to Bull for a failed attempt that will be retried; `attempt` excludes breaker
 * deferrals and `retryAfterMs` is the downstream's Retry-After, both read by the backoff strategy.
 */
export class RetryableAttemptError extends Error {
  constructor(
    message: string,
    readonly attempt: number,
    readonly retryAfterMs: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryableAttemptError';
  }
}

/** Thrown back to Bull when an LLM call would wait too long for the provider budget: not an attempt; back after `delayMs`. */
export class BudgetDeferral extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'BudgetDeferral';
  }
}

/** Thrown back to Bull when the LLM breaker is open: not an attempt; the job returns after the reset timeout. */
export class BreakerOpenDeferral extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BreakerOpenDeferral';
  }
}
