import { fixtureReport } from '../test/report-fixture';
import { buildAB, renderAB, roundOrder } from './ab';
import { evaluateThresholds, median, ratioRow } from './report';
import type { ThresholdSpec } from './schema';

const spec = (t: Partial<ThresholdSpec>): ThresholdSpec => ({ metric: 'p95_ms', info: false, ...t });

describe('same-run A/B comparisons', () => {
  it('alternates which side goes first, so a drift of the machine hits both sides alike', () => {
    expect(roundOrder(3)).toEqual(['a', 'b', 'b', 'a', 'a', 'b']);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reports each figure as the median of the per-pair ratios, with their spread', () => {
    expect(ratioRow('P95', [10, 12, 9], [10, 10, 12])).toEqual({
      metric: 'P95',
      a: [10, 12, 9],
      b: [10, 10, 12],
      ratios: [1, 1.2, 0.75],
      median: 1,
      min: 0.75,
      max: 1.2,
    });
  });

  // Platform rounds: create p95 ~5 ms in the hold stage; baseline rounds: ~10 ms (holdUs sets the hold latency).
  const platform = [
    fixtureReport([], undefined, 5000),
    fixtureReport([], undefined, 4000),
    fixtureReport([], undefined, 6000),
  ];
  const baseline = [
    fixtureReport([], undefined, 10_000),
    fixtureReport([], undefined, 9000),
    fixtureReport([], undefined, 11_000),
  ];

  it('judges ratio and delta thresholds on the median against the same run, and absolute ones on every round', () => {
    const [ratio, tooStrict, delta, absolute, info] = evaluateThresholds(
      [
        spec({ metric: 'p50_ms', request: 'create_task', maxRatio: 1 }),
        spec({ metric: 'p50_ms', request: 'create_task', maxRatio: 0.2 }),
        spec({ metric: 'efficiency', minDelta: -0.01 }),
        spec({ metric: 'errors', max: 0 }),
        spec({ metric: 'p50_ms', max: 1, info: true }),
      ],
      platform,
      baseline,
    );
    expect(ratio).toMatchObject({ ok: true, label: 'p50_ms{request=create_task} <= 1x baseline' });
    expect(ratio.actual).toBeCloseTo(0.5, 1);
    expect(tooStrict.ok).toBe(false);
    expect(delta).toMatchObject({ ok: true, actual: 0 });
    // Every fixture round has one 500: an absolute bound must hold in every round of the first side.
    expect(absolute).toMatchObject({ ok: false, actual: 1 });
    expect(info).toMatchObject({ ok: false, info: true });
  });

  it('passes when only info thresholds are over, and writes ratios, spread, gates and rounds', () => {
    const rounds = roundOrder(3).map((side, i) => ({
      side,
      dir: `rounds/${i + 1}-${side}`,
      report: (side === 'a' ? platform : baseline)[Math.floor(i / 2)],
    }));
    const ab = buildAB(
      'baseline',
      { a: 'platform', b: 'bare baseline' },
      rounds,
      [spec({ request: 'create_task', maxRatio: 1 }), spec({ max: 1, info: true })],
      [],
    );
    expect(ab.passed).toBe(true);
    expect(ab.rows.map((r) => r.metric)).toEqual([
      'P50',
      'P95',
      'P99',
      'think-time efficiency',
      'requests/s',
    ]);
    const md = renderAB(ab);
    expect(md).toContain('# `fixture`: platform against bare baseline, same run: PASSED');
    expect(md).toMatch(/\| P50 \| 0\.\d\dx \| 0\.\d\d - 0\.\d\d \|/);
    expect(md).toContain('| p95_ms{request=create_task} <= 1x baseline |');
    expect(md).toContain('information: not met on Test CPU, 2 cores');
    expect(md).toContain('[report](rounds/2-b/report.md)');
    // The generator check of the worst round leads the report.
    const lag = { p50: 1, p99: 45, max: 90 };
    const doubtful = { floor: null, loopLagMs: lag, cpuAvgPct: 50, bottleneck: ['it lagged'] };
    rounds[3].report = { ...rounds[3].report, generator: doubtful };
    rounds[0].report = { ...rounds[0].report, generator: { ...doubtful, bottleneck: [] } };
    expect(buildAB('baseline', ab.labels, rounds, [], []).generator.bottleneck).toEqual(['it lagged']);
    const failing = buildAB(
      'baseline',
      ab.labels,
      rounds,
      [spec({ request: 'create_task', maxRatio: 0.1 })],
      [],
    );
    expect(failing.passed).toBe(false);
    expect(renderAB(failing)).toContain('**FAILED: p95_ms{request=create_task} <= 0.1x baseline');
  });
});
