import { cleanTasks, fixtureReport } from '../test/report-fixture';
import { evaluateThresholds, isKnownMetric, thresholdLabel } from './thresholds';

describe('threshold evaluation', () => {
  it('passes and fails thresholds on the measured figures', () => {
    const report = fixtureReport([
      { metric: 'success_rate', min: 1 },
      { metric: 'p95_ms', request: 'create_task', stage: 'hold', max: 10 },
      { metric: 'errors', max: 0 },
      { metric: 'rate_limited', max: 1 },
      { metric: 'tasks.lost', max: 0 },
      { metric: 'process.orchestrator.peak_rss_mb', max: 100 },
    ]);
    const byLabel = Object.fromEntries(report.thresholds.map((t) => [t.label, t]));
    expect(byLabel['success_rate >= 1']).toMatchObject({ ok: false, actual: 307 / 310 });
    expect(byLabel['p95_ms{request=create_task, stage=hold} <= 10']).toMatchObject({ ok: true });
    expect(byLabel['errors <= 0']).toMatchObject({ ok: false, actual: 1 });
    expect(byLabel['rate_limited <= 1']).toMatchObject({ ok: true, actual: 1 });
    expect(byLabel['tasks.lost <= 0']).toMatchObject({ ok: true, actual: 0 });
    expect(byLabel['process.orchestrator.peak_rss_mb <= 100']).toMatchObject({ ok: false, actual: 150 });
    expect(report.passed).toBe(false);
  });

  it('treats an unmeasured metric as not measured, not as a breach', () => {
    const report = fixtureReport(
      [
        { metric: 'process.agent-worker.peak_rss_mb', max: 300 },
        { metric: 'tasks.lost', max: 0 },
      ],
      { ...cleanTasks, method: 'none' },
    );
    expect(report.thresholds.map((t) => t.ok)).toEqual([null, null]);
    expect(report.passed).toBe(true);
  });

  it('leaves long-polls out of the overall latency but not out of their own', () => {
    const report = fixtureReport();
    const [overall, poll] = evaluateThresholds(report, [
      { metric: 'max_ms', max: 1000 },
      { metric: 'p50_ms', request: 'long_poll', min: 4900 },
    ]);
    expect(overall.ok).toBe(true);
    expect(poll.ok).toBe(true);
  });

  it('computes the think-time efficiency bound', () => {
    const report = fixtureReport([{ metric: 'efficiency', min: 0.95 }]);
    // 150 user-seconds / 0.1 s think = 1500 requests possible in 20 s; 310 were made.
    expect(report.overall.thinkBoundRps).toBe(75);
    expect(report.thresholds[0]).toMatchObject({ ok: false, actual: 0.207 });
  });

  it('knows its metric names and labels thresholds readably', () => {
    expect(isKnownMetric('p95_ms')).toBe(true);
    expect(isKnownMetric('process.agent-worker.rss_growth_mb')).toBe(true);
    expect(isKnownMetric('drift.p95_ratio')).toBe(true);
    expect(isKnownMetric('p95')).toBe(false);
    expect(thresholdLabel({ metric: 'p95_ms', request: 'create_task', min: 1, max: 15 })).toBe(
      'p95_ms{request=create_task} >= 1 and <= 15',
    );
  });
});
