import { fixtureReport } from '../test/report-fixture';
import { compareReports, renderComparison } from './compare';
import { renderHtml, scriptJson } from './render-html';
import { renderMarkdown } from './render-md';
import { REPORT_SCHEMA } from './report';
import { decodeHistogram } from './stats';

describe('report', () => {
  const report = fixtureReport([{ metric: 'p95_ms', max: 100 }]);

  it('adds up: overall = sum of stages, stage = sum of its requests', () => {
    expect(report.schema).toBe(REPORT_SCHEMA);
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
    expect(md).toMatch(/\| hold \| 10 \| 10s \| 210 \|/);
    expect(md).toContain('| long_poll (long-poll) | 10 |');
    expect(md).toContain('| p95_ms <= 100 |');
    expect(md).toContain('npm run load-test:local -- --scenario fixture');
    expect(md).toContain('Test CPU, 2 cores, 24 GB RAM; Node v20.19.0; Postgres 16.1; Redis 7.2.4');
  });

  it('renders a self-contained HTML page: charts library and data inline, nothing fetched', () => {
    const html = renderHtml(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('uPlot');
    expect(html).toContain('id="c-latency"');
    expect(html).toContain('id="c-rss"');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i);
    const data = /const D = (.*);\n/.exec(html);
    expect(data).not.toBeNull();
    const parsed = JSON.parse(data![1]);
    expect(parsed.timeline).toHaveLength(20);
    expect(parsed.stages.map((s: { name: string }) => s.name)).toEqual(['up', 'hold']);
  });

  it('escapes data so a value cannot close the script element', () => {
    expect(scriptJson({ a: '</script><script>alert(1)</script>' })).not.toContain('</script>');
    const html = renderHtml({ ...report, scenario: { ...report.scenario, description: '<b>bold</b>' } });
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62;');
  });

  it('compares a before and an after run side by side', () => {
    const before = fixtureReport();
    const after = fixtureReport();
    after.overall = {
      ...after.overall,
      rps: 31,
      latencyMs: { ...after.overall.latencyMs, p95: before.overall.latencyMs.p95 / 2 },
    };
    const c = compareReports(before, after, { before: 'before/report.md', after: 'after/report.md' });
    const row = (m: string) => c.rows.find((r) => r.metric === m);
    expect(row('Throughput (req/s)')).toMatchObject({
      before: '15.5',
      after: '31.0',
      change: 'x2.00 (better)',
    });
    expect(row('P95')?.change).toBe('-50.0% (better)');
    expect(row('Total requests')?.change).toBe('=');
    const md = renderComparison(c, after);
    expect(md).toContain('| metric | before | after | change |');
    expect(md).toContain('| DB_POOL_MAX | 30 | 30 |');
  });
});
