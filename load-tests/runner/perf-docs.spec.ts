import { fixtureReport } from '../test/report-fixture';
import { compareReports } from './compare';
import { classifyResult, renderPerformanceDoc } from './perf-docs';

describe('docs/PERFORMANCE.md rendering', () => {
  it('renders load reports and comparisons with their command and machine', () => {
    const report = fixtureReport([{ metric: 'p95_ms', max: 1 }]);
    const comparison = compareReports(fixtureReport(), report, { before: 'b', after: 'a' });
    const dirty = JSON.parse(JSON.stringify(report));
    dirty.run.code.dirty = true;
    const inputs = {
      reports: [
        ...(classifyResult('r.json', JSON.parse(JSON.stringify(report))).reports ?? []),
        ...(classifyResult('d.json', dirty).reports ?? []),
      ],
      benches: [],
      comparisons: classifyResult('c.json', JSON.parse(JSON.stringify(comparison))).comparisons ?? [],
      notes: 'Pool 30 bought x2.',
    };
    const doc = renderPerformanceDoc(inputs, 'npm run perf:docs -- r.json c.json');
    expect(doc).toContain('npm run perf:docs -- r.json c.json');
    // The code each run measured (a "+" marks uncommitted changes) and the think-time efficiency.
    // ...and the machine it ran on, since the summary table mixes runs from more than one box.
    expect(doc).toMatch(/\| fixture \| abcdef1 \| Test CPU, 2 cores \| 310 \| 99\.03% \| 1 \|/);
    expect(doc).toMatch(/\| fixture \| abcdef1\+ \| Test CPU, 2 cores \| 310 \|/);
    expect(doc).toContain('code abcdef123456 with uncommitted changes');
    expect(doc).toContain('15.5 req/s (20.70% of the think-time bound)');
    expect(doc).toContain('Command `npm run load-test:local -- --scenario fixture`');
    expect(doc).toContain('Test CPU, 2 cores');
    expect(doc).toContain('Thresholds not met: p95_ms <= 1');
    expect(doc).toContain('## Before / after: `fixture`');
    expect(doc).toContain('Pool 30 bought x2.');
  });

  it('refuses a file that is not a result', () => {
    expect(() => classifyResult('x.json', { schema: 'other' })).toThrow('x.json: not a load report');
  });
});
