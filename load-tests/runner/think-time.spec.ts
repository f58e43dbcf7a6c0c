import { meanSuccessThinkSeconds, thinkRuleFor, thinkTimeMs, type ThinkTimeRules } from './think-time';

const seed: ThinkTimeRules = { success: 0.1, '429': 2, other: 0.5 };

describe('think time', () => {
  it("follows the seed's rules: 0.1 s after a success, 2 s after a 429, 0.5 s otherwise", () => {
    expect(thinkTimeMs(seed, { ok: true, status: 202 })).toBe(100);
    expect(thinkTimeMs(seed, { ok: false, status: 429 })).toBe(2000);
    expect(thinkTimeMs(seed, { ok: false, status: 503 })).toBe(500);
    expect(thinkTimeMs(seed, { ok: false, status: 0 })).toBe(500);
  });

  it('prefers an exact status rule, and a success is a success whatever its code', () => {
    const rules: ThinkTimeRules = { ...seed, '503': 1 };
    expect(thinkRuleFor(rules, { ok: false, status: 503 })).toBe(1);
    expect(thinkRuleFor(rules, { ok: true, status: 429 })).toBe(0.1);
  });

  it('draws uniformly between min and max for a range', () => {
    const rules: ThinkTimeRules = { success: { min: 0.2, max: 0.8 }, other: 0 };
    expect(thinkTimeMs(rules, { ok: true, status: 200 }, () => 0)).toBe(200);
    expect(thinkTimeMs(rules, { ok: true, status: 200 }, () => 0.5)).toBe(500);
    expect(thinkTimeMs(rules, { ok: true, status: 200 }, () => 0.999)).toBe(799);
    expect(meanSuccessThinkSeconds(rules)).toBeCloseTo(0.5);
    expect(meanSuccessThinkSeconds(seed)).toBe(0.1);
  });
});
