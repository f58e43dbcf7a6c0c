/**
 * Retry delays for task attempts and webhook deliveries.
 *
 * Exponential backoff with "equal jitter": half of the exponential delay is kept, the other half
 * is random. Pure exponential backoff makes every job that failed together retry together (a
 * thundering herd against a downstream that is just recovering); full jitter (0..delay) spreads
 * them best but may retry at once. Equal jitter keeps a floor and still spreads the herd.
 */
export function jitteredExponential(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(exponential / 2 + (random() * exponential) / 2));
}

/**
 * Delay before a job put back because the circuit breaker was open runs again: at least the
 * breaker's reset timeout (by then the breaker has half-opened), plus up to half of it again so
 * that the deferred jobs do not all return in the same instant. Only one of them becomes the
 * half-open trial call; the others meet an open or closed breaker again.
 */
export function breakerDeferralDelay(resetTimeoutMs: number, random: () => number = Math.random): number {
  return Math.round(resetTimeoutMs * (1 + random() / 2));
}

/** Retry-After from an HTTP response (delta seconds or an HTTP date), in ms; null when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
