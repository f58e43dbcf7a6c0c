import { cleanTasks, fixtureReport } from '../test/report-fixture';
import { renderHtml, renderMarkdown, scriptJson } from './render';
import { computeDrift, evaluateThresholds, generatorCheck, thresholdLabel } from './report';
import { decodeHistogram } from './stats';
import type { TimelinePoint } from './types';

describe('report', () => {
  const report = fixtureReport([{ metric: 'p95_ms', max: 100 }]);

  it('adds up: overall = sum of stages, stage = sum of its requests', () => {
    expect(report.overall.requests).toBe(310);
    expect(report.stages.map((s) => s.requests)).toEqual([100, 210]);
    expect(report.stages[0]).toMatchObject({
      success: 97,
      rateLimited: 1,
      shed: 1,
      errors: 1,
      errorsByKind: { http_429: 1, http_503: 1, http_500: 1 },
    });
    expect(report.requests.create_task.requests + report.requests.long_poll.requests).toBe(310);
    expect(report.overall.sentBytes).toBe(3000);
    expect(report.overall.rps).toBe(15.5);
    expect(report.stages[1].requestsByName.long_poll.latencyMs.p50).toBeGreaterThan(4900);
    expect(decodeHistogram(report.histograms.overall).totalCount).toBe(300);
    expect(report.run.durationS).toBe(20);
    expect(report.passed).toBe(true);
  });

  it("renders the seed's summary table, one line per stage, and the thresholds", () => {
    const md = renderMarkdown(report);
    expect(md).toContain('# Load test `fixture`: PASSED');
    for (const row of [
      '| Total requests | 310 |',
      '| Success | 307 (99.03%) |',
      '| Rate limited (429) | 1 (0.32%) |',
      '| Max users | 10 |',
      '| Data sent / received | 2.93 KB / 11.7 KB |',
    ])
      expect(md).toContain(row);
    expect(md).toMatch(/\| P95 \| \d+\.\d\d ms \|/);
    expect(md).toMatch(/\| up \| 0→10 \| 10s \| 100 \| 97\.00% \| 1 \| 1 \| 1 \|/);
    expect(md).toContain('| long_poll (long-poll) | 10 |');
    expect(md).toContain('| p95_ms <= 100 |');
    expect(md).toContain('npm run load-test:local -- --scenario fixture');
    expect(md).toContain('Test CPU, 2 cores, 24 GB RAM; Node v20.19.0; Postgres 16.1; Redis 7.2.4');
  });

  it('puts failed thresholds and a generator that may be the bottleneck in the first lines', () => {
    const failing = fixtureReport([
      { metric: 'p95_ms', request: 'create_task', max: 1 },
      { metric: 'p99_ms', max: 1, info: true },
    ]);
    failing.generator = generatorCheck(failing, null, { p50: 1, p99: 45, max: 80 });
    const md = renderMarkdown(failing);
    const top = md.split('\n').slice(0, 6).join('\n');
    expect(top).toContain('# Load test `fixture`: FAILED');
    expect(top).toMatch(/\*\*FAILED: p95_ms\{request=create_task\} <= 1 \(actual [\d.]+\)\*\*/);
    expect(top).toContain('its event loop lagged 45 ms at p99');
    // An info threshold is shown, marked with the machine, and never fails the run.
    expect(top).not.toContain('p99_ms');
    expect(md).toContain('| p99_ms <= 1 (info) |');
    expect(md).toContain('information: not met on Test CPU, 2 cores');
    const html = renderHtml(failing);
    expect(html).toContain('<div class="alert">FAILED: p95_ms{request=create_task} &#60;= 1');
  });

  it('renders a self-contained HTML page with the latency threshold drawn on the latency chart', () => {
    const html = renderHtml(fixtureReport([{ metric: 'p95_ms', request: 'create_task', max: 15 }]));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('id="c-latency"');
    expect(html).toContain('id="c-rss"');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i);
    const data = JSON.parse(/const D = (.*);\n/.exec(html)![1]);
    expect(data.timeline).toHaveLength(20);
    expect(data.stages.map((s: { name: string }) => s.name)).toEqual(['up', 'hold']);
    expect(data.limits).toEqual([{ label: 'p95_ms{request=create_task} <= 15', value: 15, failed: true }]);
  });

  it('escapes data so a value cannot close the script element', () => {
    expect(scriptJson({ a: '</script><script>alert(1)</script>' })).not.toContain('</script>');
    const html = renderHtml({ ...report, scenario: { ...report.scenario, description: '<b>bold</b>' } });
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62;');
  });
});

describe('thresholds', () => {
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

  it('treats an unmeasured metric, and a bound against a baseline the run did not have, as not measured', () => {
    const report = fixtureReport(
      [
        { metric: 'process.agent-worker.peak_rss_mb', max: 300 },
        { metric: 'tasks.lost', max: 0 },
        { metric: 'p95_ms', maxRatio: 1 },
      ],
      { ...cleanTasks, method: 'none' },
    );
    expect(report.thresholds.map((t) => t.ok)).toEqual([null, null, null]);
    expect(report.thresholds[2].label).toBe('p95_ms <= 1x baseline');
    expect(report.passed).toBe(true);
  });

  it('leaves long-polls out of the overall latency but not out of their own', () => {
    const report = fixtureReport();
    const [overall, poll] = evaluateThresholds(
      [
        { metric: 'max_ms', max: 1000, info: false },
        { metric: 'p50_ms', request: 'long_poll', min: 4900, info: false },
      ],
      [report],
    );
    expect([overall.ok, poll.ok]).toEqual([true, true]);
  });

  it('computes the think-time efficiency bound', () => {
    const report = fixtureReport([{ metric: 'efficiency', min: 0.95 }]);
    // 150 user-seconds / 0.1 s think = 1500 requests possible in 20 s; 310 were made.
    expect(report.overall.thinkBoundRps).toBe(75);
    expect(report.thresholds[0]).toMatchObject({ ok: false, actual: 0.207 });
  });

  it('labels thresholds readably', () => {
    expect(thresholdLabel({ metric: 'p95_ms', request: 'create_task', min: 1, max: 15, info: false })).toBe(
      'p95_ms{request=create_task} >= 1 and <= 15',
    );
    expect(thresholdLabel({ metric: 'efficiency', minDelta: -0.01, info: false })).toBe(
      'efficiency >= baseline - 0.01',
    );
  });
});

describe('the load generator check', () => {
  const report = fixtureReport();
  const floor = (p95: number, efficiency: number | null) => ({
    latencyMs: { ...report.overall.latencyMs, p95 },
    rps: 70,
    efficiency,
    errors: 0,
    loopLagMs: { p50: 0.1, p99: 1, max: 2 },
  });
  const lag = { p50: 0.1, p99: 3, max: 9 };

  it('clears a generator with a low floor, a quiet event loop and CPU to spare', () => {
    expect(generatorCheck(report, floor(0.3, 0.99), lag).bottleneck).toEqual([]);
  });

  it('names each way the generator may have set the figures', () => {
    const busy = {
      ...report,
      processes: [
        { name: 'load-generator', pid: 1, peakRssMb: 90, avgCpuPct: 97, peakCpuPct: 100, samples: [] },
      ],
    };
    const check = generatorCheck(busy, floor(report.overall.latencyMs.p95, 0.9), {
      p50: 5,
      p99: 30,
      max: 60,
    });
    expect(check.bottleneck.join('\n')).toMatch(/only 90\.0% of the think-time bound/);
    expect(check.bottleneck.join('\n')).toMatch(/more than half the measured P95/);
    expect(check.bottleneck.join('\n')).toMatch(/lagged 30 ms at p99/);
    expect(check.bottleneck.join('\n')).toMatch(/97% of a core/);
    expect(check.cpuAvgPct).toBe(97);
  });
});

describe('drift', () => {
  const point = (t: number, p95: number): TimelinePoint => ({
    t,
    stage: 1,
    users: 10,
    requests: 10,
    success: 10,
    rateLimited: 0,
    shed: 0,
    errors: 0,
    rps: 10,
    latencyMs: { count: 10, min: 1, avg: p95 / 2, p50: p95 / 2, p90: p95, p95, p99: p95, max: p95 },
    sentBytes: 0,
    receivedBytes: 0,
  });
  const stages = [
    { name: 'ramp', startS: 0, endS: 10 },
    { name: 'hold', startS: 10, endS: 50 },
  ];

  it('compares the first and last quarter of the longest stage', () => {
    const timeline = Array.from({ length: 50 }, (_, i) => point(i + 1, i < 30 ? 4 : 8));
    const samples = Array.from({ length: 50 }, (_, i) => ({ t: i + 1, rssMb: 100 + i, cpuPct: 10 }));
    const d = computeDrift(stages, timeline, [
      { name: 'orchestrator', pid: 1, peakRssMb: 149, avgCpuPct: 10, peakCpuPct: 10, samples },
    ]);
    expect(d).toMatchObject({
      stage: 'hold',
      p95StartMs: 4,
      p95EndMs: 8,
      p95Ratio: 2,
      rssGrowthMb: { orchestrator: 30 },
    });
  });

  it('says nothing about a stage too short to tell', () => {
    expect(computeDrift(stages, [point(11, 4), point(12, 4)], [])).toBeNull();
  });
});
