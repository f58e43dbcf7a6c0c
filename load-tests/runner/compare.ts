import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bytes, int, ms, pct, table } from './format';
import { machineLine } from './render-md';
import type { Report, StatsBlock } from './report';

/**
 * --compare: the same scenario against the seed's untuned settings ("before") and the tuned ones
 * ("after"), side by side, with the change of every figure.
 */
export interface Comparison {
  schema: 'agent-platform/load-compare@1';
  scenario: string;
  before: { settings: Record<string, string>; report: string; passed: boolean };
  after: { settings: Record<string, string>; report: string; passed: boolean };
  rows: { metric: string; before: string; after: string; change: string }[];
  stages: {
    stage: string;
    before: { p95: number; rps: number; successRate: number };
    after: { p95: number; rps: number; successRate: number };
  }[];
}

/** lowerIsBetter: true (latency, errors), false (throughput), null (volumes: no judgement). */
function change(before: number, after: number, lowerIsBetter: boolean | null): string {
  if (before === 0 && after === 0) return '=';
  if (before === 0) return 'new';
  const ratio = after / before;
  if (Math.abs(ratio - 1) < 0.005) return '=';
  const text =
    lowerIsBetter === false
      ? `x${ratio.toFixed(2)}`
      : `${ratio < 1 ? '-' : '+'}${Math.abs((1 - ratio) * 100).toFixed(1)}%`;
  if (lowerIsBetter === null) return text;
  return `${text} (${(lowerIsBetter ? ratio < 1 : ratio > 1) ? 'better' : 'worse'})`;
}

function rows(b: StatsBlock, a: StatsBlock, rb: Report, ra: Report): Comparison['rows'] {
  const line = (
    metric: string,
    vb: number,
    va: number,
    f: (n: number) => string,
    lowerIsBetter: boolean | null,
  ) => ({ metric, before: f(vb), after: f(va), change: change(vb, va, lowerIsBetter) });
  return [
    line('Total requests', b.requests, a.requests, int, null),
    line('Success rate', b.successRate, a.successRate, pct, false),
    line('Rate limited (429)', b.rateLimited, a.rateLimited, int, true),
    line('Shed (503)', b.shed, a.shed, int, true),
    line('Other errors', b.errors, a.errors, int, true),
    line('Average', b.latencyMs.avg, a.latencyMs.avg, ms, true),
    line('P50', b.latencyMs.p50, a.latencyMs.p50, ms, true),
    line('P90', b.latencyMs.p90, a.latencyMs.p90, ms, true),
    line('P95', b.latencyMs.p95, a.latencyMs.p95, ms, true),
    line('P99', b.latencyMs.p99, a.latencyMs.p99, ms, true),
    line('Max', b.latencyMs.max, a.latencyMs.max, ms, true),
    line('Throughput (req/s)', b.rps, a.rps, (n) => n.toFixed(1), false),
    line('Max users', b.maxUsers, a.maxUsers, int, null),
    line('Data sent', b.sentBytes, a.sentBytes, bytes, null),
    line('Data received', b.receivedBytes, a.receivedBytes, bytes, null),
    line('Tasks lost', rb.tasks.lost, ra.tasks.lost, int, true),
    line('Task duplicates', rb.tasks.duplicates, ra.tasks.duplicates, int, true),
    line('Completion p95', rb.tasks.completionMs.p95, ra.tasks.completionMs.p95, ms, true),
    ...ra.processes
      .filter((p) => p.name !== 'load-generator')
      .map((p) =>
        line(
          `${p.name} peak RSS (MB)`,
          rb.processes.find((x) => x.name === p.name)?.peakRssMb ?? 0,
          p.peakRssMb,
          (n) => n.toFixed(1),
          true,
        ),
      ),
  ];
}

export function compareReports(
  before: Report,
  after: Report,
  files: { before: string; after: string },
): Comparison {
  return {
    schema: 'agent-platform/load-compare@1',
    scenario: after.scenario.name,
    before: { settings: before.run.settings, report: files.before, passed: before.passed },
    after: { settings: after.run.settings, report: files.after, passed: after.passed },
    rows: rows(before.overall, after.overall, before, after),
    stages: after.stages.map((s, i) => {
      const b = before.stages[i];
      return {
        stage: s.name,
        before: { p95: b?.latencyMs.p95 ?? 0, rps: b?.rps ?? 0, successRate: b?.successRate ?? 0 },
        after: { p95: s.latencyMs.p95, rps: s.rps, successRate: s.successRate },
      };
    }),
  };
}

export function renderComparison(c: Comparison, after: Report): string {
  const settings = [...new Set([...Object.keys(c.before.settings), ...Object.keys(c.after.settings)])];
  return [
    `# Before / after: \`${c.scenario}\``,
    '',
    `Same scenario, same machine, one command: \`${after.run.command}\`. Machine: ${machineLine(after)}.`,
    '',
    table(
      ['setting', 'before (seed, untuned)', 'after (tuned)'],
      settings.map((k) => [k, c.before.settings[k] ?? '(default)', c.after.settings[k] ?? '(default)']),
    ),
    '',
    table(
      ['metric', 'before', 'after', 'change'],
      c.rows.map((r) => [r.metric, r.before, r.after, r.change]),
    ),
    '',
    '## Per stage',
    '',
    table(
      ['stage', 'p95 before', 'p95 after', 'req/s before', 'req/s after', 'success before', 'success after'],
      c.stages.map((s) => [
        s.stage,
        ms(s.before.p95),
        ms(s.after.p95),
        s.before.rps.toFixed(1),
        s.after.rps.toFixed(1),
        pct(s.before.successRate),
        pct(s.after.successRate),
      ]),
    ),
    '',
    `Thresholds: before ${c.before.passed ? 'passed' : 'failed'}, after ${c.after.passed ? 'passed' : 'failed'}. Full reports: [before](${c.before.report}), [after](${c.after.report}).`,
    '',
  ].join('\n');
}

export function writeComparison(c: Comparison, after: Report, outDir: string): { json: string; md: string } {
  const files = { json: path.join(outDir, 'compare.json'), md: path.join(outDir, 'compare.md') };
  writeFileSync(files.json, JSON.stringify(c, null, 2));
  writeFileSync(files.md, renderComparison(c, after));
  return files;
}
