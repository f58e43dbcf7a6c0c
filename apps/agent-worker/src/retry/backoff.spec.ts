import { breakerDeferralDelay, jitteredExponential, parseRetryAfter } from './backoff';

describe('retry delays', () => {
  it('doubles per attempt with equal jitter: between half and all of the exponential delay', () => {
    expect([1, 2, 3, 4].map((n) => jitteredExponential(n, 1000, 60000, () => 0))).toEqual([
      500, 1000, 2000, 4000,
    ]);
    expect([1, 2, 3, 4].map((n) => jitteredExponential(n, 1000, 60000, () => 0.999999))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('caps the delay', () => {
    expect(jitteredExponential(30, 1000, 60000, () => 1)).toBe(60000);
    expect(jitteredExponential(30, 1000, 60000, () => 0)).toBe(30000);
  });

  it('spreads jobs that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => jitteredExponential(3, 1000, 60000)));
    expect(delays.size).toBeGreaterThan(25);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(2000);
  });

  it('defers a breaker-open job for at least the reset timeout, at most half again', () => {
    expect(breakerDeferralDelay(10000, () => 0)).toBe(10000);
    expect(breakerDeferralDelay(10000, () => 0.999999)).toBe(15000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10000);
    expect(parseRetryAfter('Thu, 01 Jan 2025 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});
