import {
  RunStats,
  addInto,
  classify,
  decodeHistogram,
  encodeHistogram,
  newBucket,
  newHistogram,
  record,
  summarize,
} from './stats';

const any = { name: 'r', weight: 1, method: 'GET', path: '/' };
const created = { ...any, expect: [202] };

describe('outcome classification', () => {
  it('counts expected statuses as success and keeps 429 and 503 apart from other errors', () => {
    expect(classify(created, 202)).toEqual({ ok: true, outcome: 'success', kind: 'success' });
    expect(classify(created, 200)).toEqual({ ok: false, outcome: 'error', kind: 'http_200' });
    expect(classify(any, 204).ok).toBe(true);
    expect(classify(any, 429)).toEqual({ ok: false, outcome: 'rate_limited', kind: 'http_429' });
    expect(classify(any, 503)).toEqual({ ok: false, outcome: 'shed', kind: 'http_503' });
    expect(classify(any, 0, 'ECONNREFUSED')).toEqual({ ok: false, outcome: 'error', kind: 'ECONNREFUSED' });
  });
});

describe('histogram merging', () => {
  it('merging per-stage cells gives exactly the histogram of all samples', () => {
    const stats = new RunStats(3, ['a', 'b']);
    const all = newHistogram();
    let seed = 7;
    const next = (): number => ((seed = (seed * 48271) % 2147483647) % 50_000) + 1;
    for (let i = 0; i < 3000; i++) {
      const us = next();
      record(stats.cell(i % 3, i % 2 ? 'a' : 'b'), classify(any, 200), us);
      all.recordValue(us);
    }
    const merged = stats.merge();
    expect(merged.requests).toBe(3000);
    for (const p of [50, 90, 95, 99, 100])
      expect(merged.hist.getValueAtPercentile(p)).toBe(all.getValueAtPercentile(p));
    expect(merged.hist.mean).toBeCloseTo(all.mean, 6);
    expect(stats.merge(1).requests + stats.merge(0).requests + stats.merge(2).requests).toBe(3000);
    expect(stats.merge(undefined, 'a').requests).toBe(1500);
  });

  it('counts long-polls as requests but leaves their latency out of merged figures', () => {
    const stats = new RunStats(1, ['create', 'poll'], new Set(['poll']));
    record(stats.cell(0, 'create'), classify(any, 202), 2000);
    record(stats.cell(0, 'poll'), classify(any, 200), 5_000_000);
    const overall = summarize(stats.merge());
    expect(overall.requests).toBe(2);
    expect(overall.latencyMs.max).toBeCloseTo(2, 1);
    expect(summarize(stats.merge(0, 'poll')).latencyMs.p50).toBeGreaterThan(4990);
  });

  it('adds counts and error kinds, and survives a compressed round trip', () => {
    const a = newBucket();
    const b = newBucket();
    record(a, classify(any, 500), 1000);
    record(b, classify(any, 500), 3000);
    record(b, classify(any, 0, 'timeout'), 30_000_000);
    const s = summarize(addInto(a, b));
    expect(s).toMatchObject({
      requests: 3,
      errors: 3,
      success: 0,
      errorsByKind: { http_500: 2, timeout: 1 },
      errorRate: 1,
    });
    const back = decodeHistogram(encodeHistogram(a.hist));
    expect(back.totalCount).toBe(3);
    expect(back.getValueAtPercentile(50)).toBe(a.hist.getValueAtPercentile(50));
  });

  it('reports milliseconds with sub-millisecond resolution', () => {
    const b = newBucket();
    for (const us of [1500, 2500, 3500]) record(b, classify(any, 200), us);
    const s = summarize(b).latencyMs;
    expect([s.p50, s.avg, s.max].map((x) => Math.round(x * 10) / 10)).toEqual([2.5, 2.5, 3.5]);
  });
});
