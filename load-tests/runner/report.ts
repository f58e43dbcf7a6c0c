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
    efficiency: bound ? Math.round((rps / bound) * 1000) / 1000 : null,
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
      index: i,
      name: w.name,
      from: w.from,
      target: w.target,
      ramp: w.ramp,
      plannedSeconds: w.durationMs / 1000,
      startS: w.startMs / 1000,
      endS: w.endMs / 1000,
      plannedUserSeconds: userSeconds(w),
      requestsByName: byName(i, rt.seconds, rt.maxUsers),
    };
  });
  const seconds = engine.durationMs / 1000;
  const sum = (f: (s: StageReport) => number): number => stages.reduce((a, s) => a + f(s), 0);
  const users = {
    max: Math.max(0, ...engine.stages.map((s) => s.maxUsers)),
    userSeconds: engine.stages.reduce((a, s) => a + s.userSeconds, 0),
  };
  const overall = stats.merge();
  const report: Report = {
    schema: 'agent-platform/load-report@1',
    passed: false,
    scenario: {
      name: scenario.name,
      description: scenario.description,
      model: scenario.file.model,
      stages: stages.map((s) => ({
        name: s.name,
        from: s.from,
        target: s.target,
        ramp: s.ramp,
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
    overall: block(
      overall,
      seconds,
      { sent: sum((s) => s.sentBytes), received: sum((s) => s.receivedBytes) },
      users,
      think,
    ),
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
  report.thresholds = evaluateThresholds(report, scenario.thresholds);
  report.passed = judge(report.thresholds, report.run.aborted);
  return report;
}

/** What the generator alone achieves with this profile (the run against a null target). */
export function floorOf(scenario: Scenario, engine: EngineResult): GeneratorFloor {
  const userSeconds = engine.stages.reduce((a, s) => a + s.userSeconds, 0);
  const think = scenario.closedLoop ? null : meanSuccessThink(scenario.thinkTime);
  const b = block(
    engine.stats.merge(),
    engine.durationMs / 1000,
    { sent: 0, received: 0 },
    { max: 0, userSeconds },
    think,
  );
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
    ps.reduce((a, p) => a + p.latencyMs.p95 * p.latencyMs.count, 0) /
    ps.reduce((a, p) => a + p.latencyMs.count, 0);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
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

const blockValue = (b: StatsBlock, metric: string): number | undefined => {
  const l = b.latencyMs;
  const values: Record<(typeof BLOCK_METRICS)[number], number | null> = {
    p50_ms: l.p50,
    p90_ms: l.p90,
    p95_ms: l.p95,
    p99_ms: l.p99,
    avg_ms: l.avg,
    max_ms: l.max,
    requests: b.requests,
    rps: b.rps,
    success_rate: b.successRate,
    rate_limited_rate: b.rateLimitedRate,
    shed_rate: b.shedRate,
    error_rate: b.errorRate,
    errors: b.errors,
    rate_limited: b.rateLimited,
    shed: b.shed,
    efficiency: b.efficiency,
  };
  return values[metric as keyof typeof values] ?? undefined;
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
    return {
      peak_rss_mb: p.peakRssMb,
      avg_cpu_pct: p.avgCpuPct,
      peak_cpu_pct: p.peakCpuPct,
      rss_growth_mb: r.drift?.rssGrowthMb[p.name],
    }[proc[2]];
  }
  const stage = t.stage === undefined ? undefined : r.stages.find((s) => s.name === t.stage);
  if (t.stage !== undefined && !stage) return undefined;
  const b = t.request === undefined ? (stage ?? r.overall) : (stage?.requestsByName ?? r.requests)[t.request];
  // A request that never ran (a dropped optional endpoint) measured nothing.
  return b && b.requests > 0 ? blockValue(b, t.metric) : undefined;
}

export const isRelative = (t: ThresholdSpec): boolean =>
  [t.maxRatio, t.minRatio, t.maxDelta, t.minDelta].some((b) => b !== undefined);

export function thresholdLabel(t: ThresholdSpec): string {
  const scope = [t.request && `request=${t.request}`, t.stage && `stage=${t.stage}`]
    .filter(Boolean)
    .join(', ');
  const bounds = [
    t.min !== undefined && `>= ${t.min}`,
    t.max !== undefined && `<= ${t.max}`,
    t.minRatio !== undefined && `>= ${t.minRatio}x baseline`,
    t.maxRatio !== undefined && `<= ${t.maxRatio}x baseline`,
    t.minDelta !== undefined && `>= baseline ${t.minDelta < 0 ? '-' : '+'} ${Math.abs(t.minDelta)}`,
    t.maxDelta !== undefined && `<= baseline ${t.maxDelta < 0 ? '-' : '+'} ${Math.abs(t.maxDelta)}`,
  ];
  return `${t.metric}${scope ? `{${scope}}` : ''} ${bounds.filter(Boolean).join(' and ')}${t.info ? ' (info)' : ''}`;
}

/** Absolute bounds on this run's figures; a bound against the baseline waits for --baseline (ok: null). */
export function evaluateThresholds(r: Report, specs: readonly ThresholdSpec[]): ThresholdResult[] {
  return specs.map((t) => {
    const v = metricValue(r, t);
    const base = { ...t, label: thresholdLabel(t), actual: v === undefined || Number.isNaN(v) ? null : v };
    const absolute = t.max !== undefined || t.min !== undefined;
    if (base.actual === null || !absolute) return { ...base, ok: null };
    return {
      ...base,
      ok: (t.max === undefined || base.actual <= t.max) && (t.min === undefined || base.actual >= t.min),
    };
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
