/** When the client retries a 429 or 503 (the API's two "come back later" answers). */
export interface RetryPolicy {
  /** Tries per request, the first included (default 3; 1 turns retries off). */
  attempts?: number;
  /**
   * Longest wait before a retry (default 30 s). A Retry-After longer than this is not shortened:
   * the response is returned as it is, since retrying sooner than the API asks is refused anyway.
   */
  maxDelayMs?: number;
}

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);
const DEFAULT_ATTEMPTS = 3;
const DEFAULT_MAX_DELAY_MS = 30_000;
/** Used only when a 429/503 comes without Retry-After (a proxy's, not the API's): 0.5 s, 1 s, 2 s... */
const FALLBACK_BASE_MS = 500;

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wraps fetch: a 429 or 503 is retried after its Retry-After, up to `attempts` tries. Both answers
 * mean the API did nothing (the request was refused before any write), so retrying is safe, even
 * for POST; a task submission should still carry an Idempotency-Key against network failures.
 */
export function retryingFetch(
  fetchOnce: (request: Request) => Promise<Response>,
  policy: RetryPolicy = {},
  wait: (ms: number) => Promise<void> = sleep,
): (request: Request) => Promise<Response> {
  const attempts = Math.max(1, policy.attempts ?? DEFAULT_ATTEMPTS);
  const maxDelayMs = policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      // A Request body can be read once: each try sends a copy.
      const response = await fetchOnce(attempt < attempts ? request.clone() : request);
      if (!RETRYABLE_STATUSES.has(response.status) || attempt >= attempts) return response;
      const delay =
        retryAfterMs(response.headers.get('retry-after')) ?? FALLBACK_BASE_MS * 2 ** (attempt - 1);
      if (delay > maxDelayMs) return response;
      await response.body?.cancel();
      await wait(delay);
    }
  };
}
