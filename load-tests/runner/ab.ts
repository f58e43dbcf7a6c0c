import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { machineLine, markdown, ms, pct } from '../../tools/report';
import { generatorRows, headline, thresholdRows } from './render';
import { evaluateThresholds, judge, ratioRow } from './report';
import type { ThresholdSpec } from './schema';
import type { ABReport, Report } from './types';

/**
 * Same-run comparisons in alternating rounds: the platform against the bare baseline (--baseline), or the
 * tuned settings against the seed's (--compare). Each figure is a ratio per pair of rounds, reported as
 * the median with its spread; thresholds stated against the baseline are judged on the median.
 */

/** Rounds in pairs, alternating which side goes first (AB BA AB...), so a drift of the box hits both sides. */
export const roundOrder = (pairs: number): ('a' | 'b')[] =>
  Array.from({ length: pairs }, (_, i) => (i % 2 ? (['b', 'a'] as const) : (['a', 'b'] as const))).flat();

const HEADLINE_FIGURES: [string, (r: Report) => number | null][] = [
  ['P50', (r) => r.overall.latencyMs.p50],
  ['P95', (r) => r.overall.latencyMs.p95],
  ['P99', (r) => r.overall.latencyMs.p99],
  ['think-time efficiency', (r) => r.overall.efficiency],
  ['requests/s', (r) => r.overall.rps],
];

export function buildAB(
  kind: ABReport['kind'],
  labels: ABReport['labels'],
  rounds: { side: 'a' | 'b'; dir: string; report: Report }[],
  specs: readonly ThresholdSpec[],
  notes: string[],
): ABReport {
  const a = rounds.filter((r) => r.side === 'a').map((r) => r.report);
  const b = rounds.filter((r) => r.side === 'b').map((r) => r.report);
  const thresholds = evaluateThresholds(specs, a, b);
  const first = a[0];
  return {
    schema: 'agent-platform/load-ab@1',
    kind,
    passed: judge(
      thresholds,
      rounds.some((r) => r.report.run.aborted),
    ),
    scenario: first.scenario.name,
    labels,
    startedAt: first.run.startedAt,
    command: first.run.command,
    code: first.run.code,
    machine: first.machine,
    // The worst round's view of the load generator: the most reasons to doubt it, then the most lag.
    generator: rounds
      .flatMap((r) => r.report.generator ?? [])
      .sort((x, y) => y.bottleneck.length - x.bottleneck.length || y.loopLagMs.p99 - x.loopLagMs.p99)[0] ?? {
      floor: null,
      loopLagMs: { p50: 0, p99: 0, max: 0 },
      cpuAvgPct: null,
      bottleneck: [],
    },
    rows: HEADLINE_FIGURES.filter(([, f]) => f(a[0]) !== null).map(([name, f]) =>
      ratioRow(
        name,
        a.map((r) => f(r) ?? 0),
        b.map((r) => f(r) ?? 0),
      ),
    ),
    thresholds,
    rounds: rounds.map((r) => ({
      side: r.side,
      dir: r.dir,
      passed: r.report.passed,
      settings: r.report.run.settings,
    })),
    notes,
  };
}

export function renderAB(ab: ABReport): string {
  const fmt = (metric: string, v: number): string =>
    metric.startsWith('P') ? ms(v) : metric.includes('efficiency') ? pct(v) : v.toFixed(1);
  const settings = [...new Set(ab.rounds.flatMap((r) => Object.keys(r.settings)))];
  const side = (s: 'a' | 'b'): Record<string, string> => ab.rounds.find((r) => r.side === s)?.settings ?? {};
  const { a, b } = ab.labels;
  return markdown([
    {
      title: `# \`${ab.scenario}\`: ${a} against ${b}, same run: ${ab.passed ? 'PASSED' : 'FAILED'}`,
      text: [
        ...headline(ab.thresholds, ab.generator).map((l) => `**${l}**\n`),
        `Command \`${ab.command}\`; code ${ab.code.commit?.slice(0, 12) ?? '?'}${ab.code.dirty ? ' (uncommitted changes)' : ''}; machine ${machineLine(ab.machine)}.`,
        `${ab.rounds.length / 2} rounds of each side, alternating (AB BA ...). Ratio = ${a} / ${b} per pair of rounds; the median and the spread (min - max) of the pairs.`,
      ],
    },
    {
      header: ['figure', 'ratio (median)', 'spread', a, b],
      rows: ab.rows.map((r) => [
        r.metric,
        `${r.median.toFixed(2)}x`,
        `${r.min.toFixed(2)} - ${r.max.toFixed(2)}`,
        r.a.map((v) => fmt(r.metric, v)).join(', '),
        r.b.map((v) => fmt(r.metric, v)).join(', '),
      ]),
    },
    {
      title: 'Thresholds',
      header: ['threshold', 'actual', 'result'],
      rows: thresholdRows(ab.thresholds, ab.machine),
      text: [
        'A ratio or delta threshold is judged on the median of the pairs; an absolute one must hold in every round of the first side and shows its median. Info thresholds never fail the run: absolute figures say more about the machine than about the code.',
      ],
    },
    { title: 'Load generator', header: ['', ''], rows: generatorRows(ab.generator) },
    {
      title: 'Settings',
      header: ['setting', a, b],
      rows: settings.map((k) => [k, side('a')[k] ?? '-', side('b')[k] ?? '-']),
    },
    {
      title: 'Rounds',
      text: ab.rounds.map(
        (r, i) =>
          `${i + 1}. ${ab.labels[r.side]}: ${r.passed ? 'passed' : 'failed'} its own thresholds, [report](${r.dir}/report.md)`,
      ),
    },
    ...(ab.notes.length ? [{ title: 'Notes', text: ab.notes.map((n) => `- ${n}`) }] : []),
  ]).join('\n');
}

export function writeAB(ab: ABReport, outDir: string): string {
  writeFileSync(path.join(outDir, 'ab.json'), JSON.stringify(ab, null, 2));
  writeFileSync(path.join(outDir, 'ab.md'), renderAB(ab));
  return path.join(outDir, 'ab.md');
}
