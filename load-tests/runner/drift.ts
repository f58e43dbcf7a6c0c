import type { TimelinePoint } from './engine';
import type { ProcessReport } from './processes';

/**
 * Drift over the longest stage (a soak's hold): the first quarter against the last quarter, for the
 * p95 latency (request-weighted mean of interval p95s) and each process's RSS.
 */
export interface Drift {
  stage: string;
  p95StartMs: number;
  p95EndMs: number;
  /** p95 at the end / p95 at the start: 1 = no drift. */
  p95Ratio: number;
  /** Mean RSS of the last quarter minus that of the first quarter, per process. */
  rssGrowthMb: Record<string, number>;
}

function quarters<T>(items: readonly T[]): [T[], T[]] | undefined {
  if (items.length < 4) return undefined;
  const q = Math.max(1, Math.floor(items.length / 4));
  return [items.slice(0, q), items.slice(items.length - q)];
}

const weightedP95 = (points: readonly TimelinePoint[]): number => {
  const n = points.reduce((a, p) => a + p.latencyMs.count, 0);
  return n ? points.reduce((a, p) => a + p.latencyMs.p95 * p.latencyMs.count, 0) / n : 0;
};

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round2 = (n: number): number => Math.round(n * 100) / 100;

export function computeDrift(
  stages: readonly { name: string; startS: number; endS: number }[],
  timeline: readonly TimelinePoint[],
  processes: readonly ProcessReport[],
): Drift | null {
  const longest = [...stages].sort((a, b) => b.endS - b.startS - (a.endS - a.startS))[0];
  if (!longest) return null;
  const inStage = (t: number): boolean => t > longest.startS && t <= longest.endS;
  const q = quarters(timeline.filter((p) => inStage(p.t) && p.latencyMs.count > 0));
  if (!q) return null;
  const start = weightedP95(q[0]);
  const end = weightedP95(q[1]);
  const rssGrowthMb: Record<string, number> = {};
  for (const p of processes) {
    const pq = quarters(p.samples.filter((s) => inStage(s.t)));
    if (pq) rssGrowthMb[p.name] = round2(mean(pq[1].map((s) => s.rssMb)) - mean(pq[0].map((s) => s.rssMb)));
  }
  return {
    stage: longest.name,
    p95StartMs: round2(start),
    p95EndMs: round2(end),
    p95Ratio: start > 0 ? round2(end / start) : 1,
    rssGrowthMb,
  };
}
