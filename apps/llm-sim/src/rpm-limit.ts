/** What the limiter decided for one request, with the x-ratelimit-* headers to send. */
export type RpmDecision =
  | { allowed: true; headers: Record<string, string> }
  | { allowed: false; retryAfterS: number; headers: Record<string, string> };

const MINUTE_MS = 60000;

/**
 * `rpm` requests a minute, enforced the way hosted providers do it: over short periods, not per
 * calendar minute (OpenAI: "60 RPM may be enforced as 1 request per second"). A bucket holds one
 * second of the limit (at least one request) and refills evenly; a request finding it empty gets
 * 429 with Retry-After (whole seconds, at least 1) until the next request's worth is back.
 * The headers report the minute as OpenAI does: the limit, what is left of it over the last 60 s,
 * and when the oldest request of that window leaves it.
 */
export class RpmLimiter {
  private readonly capacity: number;
  private readonly perMs: number;
  private level: number;
  private last: number;
  /** Times of the requests let through in the last minute, oldest first. */
  private window: number[] = [];

  constructor(
    readonly rpm: number,
    now = Date.now(),
  ) {
    this.capacity = Math.max(1, Math.ceil(rpm / 60));
    this.perMs = rpm / MINUTE_MS;
    this.level = this.capacity;
    this.last = now;
  }

  take(now = Date.now()): RpmDecision {
    this.level = Math.min(this.capacity, this.level + (now - this.last) * this.perMs);
    this.last = now;
    const firstInWindow = this.window.findIndex((t) => t > now - MINUTE_MS);
    this.window = firstInWindow < 0 ? [] : this.window.slice(firstInWindow);
    if (this.level < 1) {
      return {
        allowed: false,
        retryAfterS: Math.max(1, Math.ceil((1 - this.level) / this.perMs / 1000)),
        headers: this.headers(now),
      };
    }
    this.level -= 1;
    this.window.push(now);
    return { allowed: true, headers: this.headers(now) };
  }

  private headers(now: number): Record<string, string> {
    const resetMs = this.window.length ? this.window[0] + MINUTE_MS - now : 0;
    return {
      'x-ratelimit-limit-requests': String(this.rpm),
      'x-ratelimit-remaining-requests': String(Math.max(0, this.rpm - this.window.length)),
      'x-ratelimit-reset-requests': `${(resetMs / 1000).toFixed(3)}s`,
    };
  }
}
