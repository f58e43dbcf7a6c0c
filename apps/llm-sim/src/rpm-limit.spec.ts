import { RpmLimiter } from './rpm-limit';

describe('llm-sim RPM limit', () => {
  it('lets one second of the limit through at once, then one request per 60000 / rpm ms', () => {
    const limiter = new RpmLimiter(1200, 0);
    const burst = Array.from({ length: 25 }, () => limiter.take(0).allowed);
    expect(burst.filter(Boolean)).toHaveLength(20);
    expect(limiter.take(49).allowed).toBe(false);
    expect(limiter.take(50).allowed).toBe(true);
    expect(limiter.take(60).allowed).toBe(false);
    expect(limiter.take(100).allowed).toBe(true);
  });

  it('never lets more than the limit through in any minute when driven flat out', () => {
    const limiter = new RpmLimiter(600, 0);
    const times: number[] = [];
    for (let t = 0; t < 180000; t += 7) if (limiter.take(t).allowed) times.push(t);
    for (const [i, t] of times.entries()) {
      const inMinute = times.slice(i).filter((u) => u < t + 60000).length;
      expect(inMinute).toBeLessThanOrEqual(600 + 10);
    }
    expect(times.length).toBeGreaterThan(1790);
  });

  it('answers a refused request with Retry-After in whole seconds, at least 1', () => {
    const limiter = new RpmLimiter(6, 0);
    expect(limiter.take(0).allowed).toBe(true);
    const refused = limiter.take(0);
    expect(refused).toMatchObject({ allowed: false, retryAfterS: 10 });
    expect(new RpmLimiter(6000, 0).take(0).allowed).toBe(true);
  });

  it('reports the minute as OpenAI does: limit, remaining over the last 60 s, reset', () => {
    const limiter = new RpmLimiter(120, 0);
    limiter.take(0);
    limiter.take(1000);
    expect(limiter.take(2000).headers).toEqual({
      'x-ratelimit-limit-requests': '120',
      'x-ratelimit-remaining-requests': '117',
      'x-ratelimit-reset-requests': '58.000s',
    });
    expect(limiter.take(61000).headers['x-ratelimit-remaining-requests']).toBe('118');
  });
});
