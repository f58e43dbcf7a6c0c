import type { Report, StatsBlock } from './report';

/**
 * Thresholds: the scenario's SLO gate. Each names a metric, optionally scoped to one request and/or one
 * stage, with a max and/or min. A metric the run did not measure (no process watched, tasks not followed)
 * is reported as "not measured" and does not fail the run; every measured breach does.
 */
export interface ThresholdSpecLike {
  metric: string;
  request?: string;
  stage?: string;
  max?: number;
  min?: number;
  description?: string;
}

export interface ThresholdResult extends ThresholdSpecLike {
  label: string;
  actual: number | null;
  /** null: the run did not measure this metric. */
  ok: boolean | null;
}

const BLOCK_METRICS = {
  p50_ms: (b: StatsBlock) => b.latencyMs.p50,
  p90_ms: (b: StatsBlock) => b.latencyMs.p90,
  p95_ms: (b: StatsBlock) => b.latencyMs.p95,
  p99_ms: (b: StatsBlock) => b.latencyMs.p99,
  avg_ms: (b: StatsBlock) => b.latencyMs.avg,
  max_ms: (b: StatsBlock) => b.latencyMs.max,
  requests: (b: StatsBlock) => b.requests,
  rps: (b: StatsBlock) => b.rps,
  success_rate: (b: StatsBlock) => b.successRate,
  rate_limited_rate: (b: StatsBlock) => b.rateLimitedRate,
  shed_rate: (b: StatsBlock) => b.shedRate,
  error_rate: (b: StatsBlock) => b.errorRate,
  errors: (b: StatsBlock) => b.errors,
  rate_limited: (b: StatsBlock) => b.rateLimited,
  shed: (b: StatsBlock) => b.shed,
  efficiency: (b: StatsBlock) => b.efficiency ?? undefined,
} satisfies Record<string, (b: StatsBlock) => number | undefined>;

const TASK_METRICS: Record<string, (r: Report) => number | undefined> = {
  'tasks.accepted': (r) => r.tasks.accepted,
  'tasks.lost': (r) => r.tasks.lost,
  'tasks.missing': (r) => r.tasks.missing,
  'tasks.unfinished': (r) => r.tasks.unfinished,
  'tasks.duplicates': (r) => r.tasks.duplicates,
  'tasks.failed': (r) => r.tasks.failed,
  'tasks.succeeded_without_post': (r) => r.tasks.succeededWithoutPost,
  'tasks.succeeded_rate': (r) => (r.tasks.accepted ? r.tasks.succeeded / r.tasks.accepted : undefined),
  'tasks.completion_p50_ms': (r) => (r.tasks.completionMs.count ? r.tasks.completionMs.p50 : undefined),
  'tasks.completion_p95_ms': (r) => (r.tasks.completionMs.count ? r.tasks.completionMs.p95 : undefined),
};

const PROCESS_METRIC = /^process\.([a-z0-9-]+)\.(peak_rss_mb|avg_cpu_pct|peak_cpu_pct|rss_growth_mb)$/;

const DRIFT_METRICS: Record<string, (r: Report) => number | undefined> = {
  'drift.p95_ratio': (r) => r.drift?.p95Ratio,
};

export const METRIC_NAMES = [
  ...Object.keys(BLOCK_METRICS),
  ...Object.keys(TASK_METRICS),
  ...Object.keys(DRIFT_METRICS),
  'process.<name>.peak_rss_mb|avg_cpu_pct|peak_cpu_pct|rss_growth_mb',
];

export function isKnownMetric(metric: string): boolean {
  return (
    metric in BLOCK_METRICS ||
    metric in TASK_METRICS ||
    metric in DRIFT_METRICS ||
    PROCESS_METRIC.test(metric)
  );
}

function blockFor(report: Report, t: ThresholdSpecLike): StatsBlock | undefined {
  const stage = t.stage === undefined ? undefined : report.stages.find((s) => s.name === t.stage);
  if (t.stage !== undefined && !stage) return undefined;
  if (t.request !== undefined) return stage ? stage.requestsByName[t.request] : report.requests[t.request];
  return stage ?? report.overall;
}

export function metricValue(report: Report, t: ThresholdSpecLike): number | undefined {
  if (t.metric in TASK_METRICS)
    return report.tasks.method === 'none' ? undefined : TASK_METRICS[t.metric](report);
  if (t.metric in DRIFT_METRICS) return DRIFT_METRICS[t.metric](report);
  const proc = PROCESS_METRIC.exec(t.metric);
  if (proc) {
    const p = report.processes.find((x) => x.name === proc[1]);
    if (!p || p.samples.length === 0) return undefined;
    if (proc[2] === 'rss_growth_mb') return report.drift?.rssGrowthMb[p.name];
    return proc[2] === 'peak_rss_mb' ? p.peakRssMb : proc[2] === 'avg_cpu_pct' ? p.avgCpuPct : p.peakCpuPct;
  }
  const metric = BLOCK_METRICS[t.metric as keyof typeof BLOCK_METRICS];
  if (!metric) throw new Error(`unknown threshold metric ${t.metric}; known: ${METRIC_NAMES.join(', ')}`);
  const block = blockFor(report, t);
  // A request that never ran (dropped optional endpoint, zero weight) measured nothing.
  if (!block || block.requests === 0) return undefined;
  return metric(block);
}

export function thresholdLabel(t: ThresholdSpecLike): string {
  const scope = [t.request && `request=${t.request}`, t.stage && `stage=${t.stage}`]
    .filter(Boolean)
    .join(', ');
  const bounds = [t.min !== undefined && `>= ${t.min}`, t.max !== undefined && `<= ${t.max}`]
    .filter(Boolean)
    .join(' and ');
  return `${t.metric}${scope ? `{${scope}}` : ''} ${bounds}`;
}

export function evaluateThresholds(report: Report, specs: readonly ThresholdSpecLike[]): ThresholdResult[] {
  return specs.map((t) => {
    const actual = metricValue(report, t);
    const label = thresholdLabel(t);
    if (actual === undefined || Number.isNaN(actual)) return { ...t, label, actual: null, ok: null };
    const ok = (t.max === undefined || actual <= t.max) && (t.min === undefined || actual >= t.min);
    return { ...t, label, actual, ok };
  });
}
