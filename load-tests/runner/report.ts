import { meanSuccessThink, userSeconds } from '../lib/scenario';
import { BLOCK_METRICS, PROCESS_METRIC, type ThresholdSpec } from './schema';
import { encodeHistogram, summarize } from './stats';
import type {
  Bucket,
  Drift,
  EngineResult,
  GeneratorCheck,
  GeneratorFloor,
  MachineInfo,
  ProcessReport,
  RatioRow,
  Report,
  RunInfo,
  Scenario,
  StageReport,
  StatsBlock,
  TaskCheck,
  ThresholdResult,
  TimelinePoint,
} from './types';

/** report.json: what the Markdown and HTML views show, plus compressed histograms for later merges. */
export interface ReportInput {
  scenario: Scenario;
  engine: EngineResult;
  tasks?: TaskCheck;
  processes?: ProcessReport[];
  machine: MachineInfo;
  run: Omit<RunInfo, 'startedAt' | 'finishedAt' | 'durationS' | 'aborted' | 'notes'> & { notes?: string[] };
  finishedAt?: Date;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);

function block(
  bucket: Bucket,
  seconds: number,
  bytes: { sent: number; received: number },
  users: { max: number; userSeconds: number },
  thinkSeconds: number | null,
): StatsBlock {
  const rps = seconds > 0 ? bucket.requests / seconds : 0;
  const bound = thinkSeconds && seconds > 0 ? users.userSeconds / thinkSeconds / seconds : null;
  return {
    ...summarize(bucket),
    rps: round1(rps),
    seconds: round1(seconds),
    sentBytes: bytes.sent,
    receivedBytes: bytes.received,
    maxUsers: users.max,
    userSeconds: round1(users.userSeconds),
    thinkBoundRps: bound === null ? null : round1(bound),
    efficiency: bound ? round3(rps / bound) : null,
  };
}

export function emptyTaskCheck(accepted: number, note: string): TaskCheck {
  const completionMs = { count: 0, min: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const zero = { succeeded: 0, failed: 0, cancelled: 0, lost: 0, missing: 0, unfinished: 0, duplicates: 0 };
  return { method: 'none', accepted, ...zero, succeededWithoutPost: 0, completionMs, drainSeconds: 0, note };
}

export function buildReport(input: ReportInput): Report {
  const { scenario, engine } = input;
  const stats = engine.stats;
  const think = scenario.closedLoop ? null : meanSuccessThink(scenario.thinkTime);
  const none = { sent: 0, received: 0 };
  const byName = (stage: number | undefined, seconds: number, max: number): Record<string, StatsBlock> =>
    Object.fromEntries(
      stats.requestNames.map((r) => [
        r,
        block(stats.merge(stage, r), seconds, none, { max, userSeconds: 0 }, null),
      ]),
    );
  const stages: StageReport[] = scenario.stages.map((w, i) => {
    const rt = engine.stages[i];
    const bytes = { sent: rt.sentBytes, received: rt.receivedBytes };
    return {
      ...block(stats.merge(i), rt.seconds, bytes, { max: rt.maxUsers, userSeconds: rt.userSeconds }, think),
      ...{ index: i, name: w.name, from: w.from, target: w.target, ramp: w.ramp },
      plannedSeconds: w.durationMs / 1000,
      startS: w.startMs / 1000,
      endS: w.endMs / 1000,
      plannedUserSeconds: userSeconds(w),
      requestsByName: byName(i, rt.seconds, rt.maxUsers),
    };
  });
  const seconds = engine.durationMs / 1000;
  const users = {
    max: Math.max(0, ...engine.stages.map((s) => s.maxUsers)),
    userSeconds: sum(engine.stages, (s) => s.userSeconds),
  };
  const bytes = { sent: sum(stages, (s) => s.sentBytes), received: sum(stages, (s) => s.receivedBytes) };
  const overall = stats.merge();
  const report: Report = {
    schema: 'agent-platform/load-report@1',
    passed: false,
    scenario: {
      name: scenario.name,
      description: scenario.description,
      model: scenario.file.model,
      stages: stages.map((s) => ({
        ...{ name: s.name, from: s.from, target: s.target, ramp: s.ramp },
        durationS: s.plannedSeconds,
      })),
      file: scenario.file,
    },
    run: {
      ...input.run,
      startedAt: engine.startedAt.toISOString(),
      finishedAt: (input.finishedAt ?? new Date()).toISOString(),
      durationS: round1(seconds),
      aborted: engine.aborted,
      notes: [...(input.run.notes ?? []), ...engine.notes],
    },
    machine: input.machine,
    overall: block(overall, seconds, bytes, users, think),
    requests: byName(undefined, seconds, users.max),
    stages,
    timeline: { intervalS: engine.intervalMs / 1000, points: engine.timeline },
    tasks: input.tasks ?? emptyTaskCheck(engine.accepted.length, 'tasks were not followed'),
    processes: input.processes ?? [],
    drift: null,
    thresholds: [],
    histograms: {
      overall: encodeHistogram(overall.hist),
      stages: stages.map((_, i) => encodeHistogram(stats.merge(i).hist)),
      requests: Object.fromEntries(
        stats.requestNames.map((r) => [r, encodeHistogram(stats.merge(undefined, r).hist)]),
      ),
    },
  };
  report.drift = computeDrift(report.stages, report.timeline.points, report.processes);
  report.thresholds = evaluateThresholds(scenario.thresholds, [report]);
  report.passed = judge(report.thresholds, report.run.aborted);
  return report;
}

/** What the generator alone achieves with this profile (the run against a null target). */
export function floorOf(scenario: Scenario, engine: EngineResult): GeneratorFloor {
  const think = scenario.closedLoop ? null : meanSuccessThink(scenario.thinkTime);
  const users = { max: 0, userSeconds: sum(engine.stages, (s) => s.userSeconds) };
  const b = block(engine.stats.merge(), engine.durationMs / 1000, { sent: 0, received: 0 }, users, think);
  return {
    latencyMs: b.latencyMs,
    rps: b.rps,
    efficiency: b.efficiency,
    errors: b.requests - b.success,
    loopLagMs: engine.loopLagMs,
  };
}

/** A run passes when it was not aborted and no gating threshold failed ("info" ones never gate). */
export const judge = (thresholds: readonly ThresholdResult[], aborted = false): boolean =>
  !aborted && thresholds.every((t) => t.info || t.ok !== false);

/** First against last quarter of the longest stage (a soak's hold): p95 and each process's RSS. */
export function computeDrift(
  stages: readonly { name: string; startS: number; endS: number }[],
  timeline: readonly TimelinePoint[],
  processes: readonly ProcessReport[],
): Drift | null {
  const longest = [...stages].sort((a, b) => b.endS - b.startS - (a.endS - a.startS))[0];
  if (!longest) return null;
  const inStage = (t: number): boolean => t > longest.startS && t <= longest.endS;
  const quarters = <T>(xs: T[]): [T[], T[]] | undefined => {
    const q = Math.floor(xs.length / 4);
    return q ? [xs.slice(0, q), xs.slice(xs.length - q)] : undefined;
  };
  const q = quarters(timeline.filter((p) => inStage(p.t) && p.latencyMs.count > 0));
  if (!q) return null;
  const p95 = (ps: TimelinePoint[]): number =>
    sum(ps, (p) => p.latencyMs.p95 * p.latencyMs.count) / sum(ps, (p) => p.latencyMs.count);
  const mean = (xs: number[]): number => sum(xs, (x) => x) / xs.length;
  const rssGrowthMb: Record<string, number> = {};
  for (const p of processes) {
    const pq = quarters(p.samples.filter((s) => inStage(s.t)));
    if (pq) rssGrowthMb[p.name] = round2(mean(pq[1].map((s) => s.rssMb)) - mean(pq[0].map((s) => s.rssMb)));
  }
  const [start, end] = [p95(q[0]), p95(q[1])];
  return {
    stage: longest.name,
    p95StartMs: round2(start),
    p95EndMs: round2(end),
    p95Ratio: start > 0 ? round2(end / start) : 1,
    rssGrowthMb,
  };
}

const blockValue = (b: StatsBlock, metric: string): number | null | undefined => {
  const l = b.latencyMs;
  const values: Record<(typeof BLOCK_METRICS)[number], number | null> = {
    ...{ p50_ms: l.p50, p90_ms: l.p90, p95_ms: l.p95, p99_ms: l.p99, avg_ms: l.avg, max_ms: l.max },
    ...{ requests: b.requests, rps: b.rps, errors: b.errors, rate_limited: b.rateLimited, shed: b.shed },
    success_rate: b.successRate,
    rate_limited_rate: b.rateLimitedRate,
    shed_rate: b.shedRate,
    error_rate: b.errorRate,
    efficiency: b.efficiency,
  };
  return values[metric as keyof typeof values];
};

/** The figure a threshold looks at, or undefined when the run did not measure it. */
export function metricValue(
  r: Report,
  t: Pick<ThresholdSpec, 'metric' | 'request' | 'stage'>,
): number | undefined {
  const tasks = r.tasks;
  if (t.metric.startsWith('tasks.')) {
    if (tasks.method === 'none') return undefined;
    const completion = tasks.completionMs.count ? tasks.completionMs : undefined;
    return {
      'tasks.accepted': tasks.accepted,
      'tasks.lost': tasks.lost,
      'tasks.missing': tasks.missing,
      'tasks.unfinished': tasks.unfinished,
      'tasks.duplicates': tasks.duplicates,
      'tasks.failed': tasks.failed,
      'tasks.succeeded_without_post': tasks.succeededWithoutPost,
      'tasks.succeeded_rate': tasks.accepted ? tasks.succeeded / tasks.accepted : undefined,
      'tasks.completion_p50_ms': completion?.p50,
      'tasks.completion_p95_ms': completion?.p95,
    }[t.metric];
  }
  if (t.metric === 'drift.p95_ratio') return r.drift?.p95Ratio;
  const proc = PROCESS_METRIC.exec(t.metric);
  if (proc) {
    const p = r.processes.find((x) => x.name === proc[1]);
    if (!p?.samples.length) return undefined;
    const growth = r.drift?.rssGrowthMb[p.name];
    return {
      peak_rss_mb: p.peakRssMb,
      avg_cpu_pct: p.avgCpuPct,
      peak_cpu_pct: p.peakCpuPct,
      rss_growth_mb: growth,
    }[proc[2]];
  }
  const stage = t.stage === undefined ? undefined : r.stages.find((s) => s.name === t.stage);
  if (t.stage !== undefined && !stage) return undefined;
  const b = t.request === undefined ? (stage ?? r.overall) : (stage?.requestsByName ?? r.requests)[t.request];
  // A request that never ran (a dropped optional endpoint) measured nothing; an efficiency needs think time.
  return b && b.requests > 0 ? (blockValue(b, t.metric) ?? undefined) : undefined;
}

export function thresholdLabel(t: ThresholdSpec): string {
  const scope = [t.request && `request=${t.request}`, t.stage && `stage=${t.stage}`]
    .filter(Boolean)
    .join(', ');
  const delta = (d: number): string => `baseline ${d < 0 ? '-' : '+'} ${Math.abs(d)}`;
  const bounds = [
    t.min !== undefined && `>= ${t.min}`,
    t.max !== undefined && `<= ${t.max}`,
    t.minRatio !== undefined && `>= ${t.minRatio}x baseline`,
    t.maxRatio !== undefined && `<= ${t.maxRatio}x baseline`,
    t.minDelta !== undefined && `>= ${delta(t.minDelta)}`,
    t.maxDelta !== undefined && `<= ${delta(t.maxDelta)}`,
  ];
  return `${t.metric}${scope ? `{${scope}}` : ''} ${bounds.filter(Boolean).join(' and ')}${t.info ? ' (info)' : ''}`;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

export function ratioRow(metric: string, a: number[], b: number[]): RatioRow {
  const ratios = a.map((x, i) => (b[i] > 0 ? round3(x / b[i]) : 0));
  return { metric, a, b, ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * Thresholds over the rounds `a` (one run is one round): an absolute bound must hold in every round and shows
 * their median; a bound against the baseline is judged on the median of the per-pair ratios (or differences)
 * with the baseline's rounds `b`, and is not judged (ok: null) without them.
 */
export function evaluateThresholds(
  specs: readonly ThresholdSpec[],
  a: readonly Report[],
  b: readonly Report[] = [],
): ThresholdResult[] {
  return specs.map((t) => {
    const out = { ...t, label: thresholdLabel(t), actual: null, ok: null };
    const va = a.map((r) => metricValue(r, t));
    const vb = b.map((r) => metricValue(r, t));
    if (va.some((v) => v === undefined || Number.isNaN(v))) return out;
    const av = va as number[];
    if (t.max !== undefined || t.min !== undefined) {
      const ok = av.every((v) => (t.max === undefined || v <= t.max) && (t.min === undefined || v >= t.min));
      return { ...out, actual: median(av), ok };
    }
    if (!b.length) return { ...out, actual: median(av) };
    if (vb.some((v) => v === undefined)) return out;
    const bv = vb as number[];
    const ratio = ratioRow(t.metric, av, bv).median;
    const delta = median(av.map((v, i) => v - bv[i]));
    const ok =
      (t.maxRatio === undefined || ratio <= t.maxRatio) &&
      (t.minRatio === undefined || ratio >= t.minRatio) &&
      (t.maxDelta === undefined || delta <= t.maxDelta) &&
      (t.minDelta === undefined || delta >= t.minDelta);
    const ratioBound = t.maxRatio !== undefined || t.minRatio !== undefined;
    return { ...out, actual: round3(ratioBound ? ratio : delta), ok };
  });
}

/**
 * When the load generator, not the target, may have set the figures: it could not reach the think-time
 * bound against a null target, its own floor is more than half the measured P95, its event loop lagged
 * more than 20 ms at p99 (answers were timestamped late), or it kept a core 90% busy.
 */
export function generatorCheck(
  r: Pick<Report, 'overall' | 'processes'>,
  floor: GeneratorFloor | null,
  loopLagMs: GeneratorCheck['loopLagMs'],
): GeneratorCheck {
  const out: string[] = [];
  const o = r.overall;
  if (floor?.efficiency != null && floor.efficiency < 0.97)
    out.push(
      `against a null target the generator reached only ${(floor.efficiency * 100).toFixed(1)}% of the think-time bound`,
    );
  if (floor && o.latencyMs.count && floor.latencyMs.p95 * 2 > o.latencyMs.p95)
    out.push(
      `its own P95 against a null target (${floor.latencyMs.p95} ms) is more than half the measured P95 (${o.latencyMs.p95} ms)`,
    );
  if (floor && o.thinkBoundRps === null && floor.rps < o.rps * 1.25)
    out.push(`against a null target it made only ${floor.rps} req/s, close to the measured ${o.rps} req/s`);
  if (loopLagMs.p99 > 20)
    out.push(`its event loop lagged ${loopLagMs.p99} ms at p99: answers were timestamped up to that late`);
  const cpu = r.processes.find((p) => p.name === 'load-generator')?.avgCpuPct ?? null;
  if (cpu !== null && cpu >= 90) out.push(`it kept ${cpu}% of a core busy on average`);
  return { floor, loopLagMs, cpuAvgPct: cpu, bottleneck: out };
}
