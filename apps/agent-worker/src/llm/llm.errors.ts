/** The LLM answered with an HTTP error status. */
export class LlmHttpError extends Error {
  constructor(
    readonly status: number,
    /** The server's Retry-After, in ms (429 and 503 usually carry one). */
    readonly retryAfterMs: number | null,
    detail: string,
  ) {
    super(`LLM responded ${status}${detail ? `: ${detail.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`);
    this.name = 'LlmHttpError';
  }

  /**
   * A 4xx says the request itself is wrong (bad model, bad key, too long): repeating it cannot
   * help and it says nothing about the downstream's health, so it neither trips the breaker nor
   * gets retried. 408 (request timeout) and 429 (rate limited) are the exceptions: both mean
   * "try again later" and both are signs of an overloaded downstream.
   */
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/** The LLM answered 2xx but not with a usable completion (or the connection failed mid-way). */
export class LlmResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LlmResponseError';
  }
}

/** The call could not reach the LLM (connection refused, reset, DNS...). */
export class LlmNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LlmNetworkError';
  }
}

/** The call took longer than the breaker's timeout; its HTTP request was aborted. */
export class LlmTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`LLM call timed out after ${timeoutMs} ms (request aborted)`);
    this.name = 'LlmTimeoutError';
  }
}

/** The circuit breaker is open (or half-open with its one trial call in flight): no call was made. */
export class LlmUnavailableError extends Error {
  constructor(
    readonly breaker: string,
    options?: { cause?: unknown },
  ) {
    super(
      options?.cause instanceof Error
        ? `LLM circuit breaker ${breaker} is open again: its trial call failed (${options.cause.message})`
        : `LLM circuit breaker ${breaker} is open; the call was not made`,
      options,
    );
    this.name = 'LlmUnavailableError';
  }
}

/**
 * The call would wait longer than LLM_BUDGET_MAX_WAIT_MS for the provider budget (or a pause the
 * provider asked for): it was not made, and its job goes back to the queue for `delayMs`, without
 * spending an attempt.
 */
export class LlmBudgetDeferral extends Error {
  constructor(readonly delayMs: number) {
    super(`LLM budget: the next call may go in ${Math.ceil(delayMs / 1000)} s; the job waits in the queue`);
    this.name = 'LlmBudgetDeferral';
  }
}

/** The caller gave up the call (its task was cancelled): its request was aborted. */
export class LlmCallCancelledError extends Error {
  constructor(reason: string) {
    super(`LLM call cancelled: ${reason}`);
    this.name = 'LlmCallCancelledError';
  }
}

/**
 * True for errors that count against the breaker (see LlmHttpError.permanent). A cancelled call
 * says nothing about the downstream either, and is not retried.
 */
export function countsAsBreakerFailure(err: unknown): boolean {
  return !(err instanceof LlmHttpError && err.permanent) && !(err instanceof LlmCallCancelledError);
}
