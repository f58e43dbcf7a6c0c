import { compare, type BenchResult } from '../bench/measure';
import { buildAB, roundOrder } from '../load-tests/runner/ab';
import { fixtureReport, machine } from '../load-tests/test/report-fixture';
import { classifyResult, renderPerformanceDoc } from './perf-docs';

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe('docs/PERFORMANCE.md rendering', () => {
  const older = fixtureReport([{ metric: 'p95_ms', max: 1 }]);
  const latest = clone(older);
  latest.run.startedAt = '2026-02-01T00:00:00.000Z';
  latest.run.code.dirty = true;
  const rounds = roundOrder(3).map((side, i) => ({ side, dir: `rounds/${i}`, report: fixtureReport() }));
  const ab = buildAB(
    'baseline',
    { a: 'platform', b: 'bare baseline' },
    rounds,
    [{ metric: 'p95_ms', maxRatio: 1, info: false }],
    [],
  );
  const http = (label: string, rate: number) => ({
    label,
    rate,
    unit: 'req/s' as const,
    volume: '',
    latency: '',
    failures: 0,
    loadAverage: 1,
  });
  const bench: BenchResult = {
    schema: 'agent-platform/bench@1',
    startedAt: '2026-01-15T00:00:00Z',
    command: 'npm run bench',
    code: { commit: '0123456789' },
    machine,
    settings: { mode: 'baselines' },
    comparisons: [compare('ingest', '(a) POST /v1/tasks', http('bare', 1000), http('real', 2000), 0.8)],
    notes: [],
  };
  const doc = renderPerformanceDoc(
    [
      classifyResult('old.json', clone(older)),
      classifyResult('new.json', latest),
      classifyResult('ab.json', clone(ab)),
      classifyResult('bench.json', clone(bench)),
    ],
    'npm run perf:docs -- old.json new.json ab.json bench.json',
    'Pool 30 bought x2.',
  );

  it('shows the same-run ratios first, with their spread and gates', () => {
    expect(doc.indexOf('## Same-run ratios')).toBeLessThan(doc.indexOf('## Load tests'));
    expect(doc).toContain('### `fixture`: platform / bare baseline, passed');
    expect(doc).toMatch(/\| P95 \| 1\.00x \| 1\.00 - 1\.00 \|/);
    expect(doc).toContain('p95_ms <= 1x baseline met');
  });

  it('shows the latest run per scenario and machine with its command, and earlier ones as one history line', () => {
    expect(doc).toContain('npm run perf:docs -- old.json new.json ab.json bench.json');
    expect(doc).toMatch(
      /\| `fixture` \| Test CPU, 2 cores \| 2026-02-01 00:00 \| abcdef1\+ \| 310 requests, 99\.0% success, P95 [\d.]+ ms, 20\.7% of the think-time bound, failed \|/,
    );
    expect(doc).toContain(
      '- `fixture` on Test CPU, 2 cores: `npm run load-test:local -- --scenario fixture` (`new.json`)',
    );
    expect(doc).toMatch(
      /## History[\s\S]*\| 2026-01-01 00:00 \| `fixture` \| Test CPU, 2 cores \| abcdef1 \|.*`old\.json` \|/,
    );
    expect(doc).toContain('| (a) POST /v1/tasks | 2.00 | >= 0.8 (met) |');
    expect(doc).toContain('## What each optimisation bought\n\nPool 30 bought x2.');
  });

  it('refuses a file that is not a result', () => {
    expect(() => classifyResult('x.json', { schema: 'other' })).toThrow('x.json: not a load report');
  });
});
