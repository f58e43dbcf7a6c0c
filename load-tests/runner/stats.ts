import * as hdr from 'hdr-histogram-js';
import { outcomeOf, type RequestLike } from '../lib/scenario';
import type { Bucket, Classified, LatencySummary, OutcomeSummary, RunCells } from './types';

/**
 * Latency and outcome accounting. Each (stage, request) cell owns an HDR histogram (microseconds) and
 * counters; stage, request and overall figures are merges of cells, so every table adds up. Long-polls
 * count as requests but stay out of merged latency: a 5 s wait is the endpoint working, not a slow answer.
 */
export function newHistogram(): hdr.Histogram {
  // 3 significant digits from 1 us; autoResize lets a 60 s outlier in without a fixed upper bound.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    bitBucketSize: 32,
    useWebAssembly: false,
  });
}

export const encodeHistogram = (h: hdr.Histogram): string => hdr.encodeIntoCompressedBase64(h);
export const decodeHistogram = (s: string): hdr.Histogram => hdr.decodeFromCompressedBase64(s, 32, false);

/** The scenario's notion of success, plus the network error kind when no answer came. */
export function classify(request: RequestLike, status: number, networkError?: string): Classified {
  const outcome = networkError ? 'error' : outcomeOf(request, status);
  const kind = networkError ?? (outcome === 'success' ? 'success' : `http_${status}`);
  return { ok: outcome === 'success', outcome, kind };
}

export function newBucket(): Bucket {
  return {
    requests: 0,
    success: 0,
    rateLimited: 0,
    shed: 0,
    errors: 0,
    errorsByKind: {},
    hist: newHistogram(),
  };
}

export function record(b: Bucket, c: Classified, latencyUs: number): void {
  b.requests++;
  if (c.outcome === 'success') b.success++;
  else if (c.outcome === 'rate_limited') b.rateLimited++;
  else if (c.outcome === 'shed') b.shed++;
  else b.errors++;
  if (!c.ok) b.errorsByKind[c.kind] = (b.errorsByKind[c.kind] ?? 0) + 1;
  if (latencyUs > 0) b.hist.recordValue(Math.max(1, Math.round(latencyUs)));
}

/** Adds `other` into `into`, with its latencies unless they must stay out (long-polls in a merge). */
export function addInto(into: Bucket, other: Bucket, withLatency = true): Bucket {
  into.requests += other.requests;
  into.success += other.success;
  into.rateLimited += other.rateLimited;
  into.shed += other.shed;
  into.errors += other.errors;
  for (const [k, n] of Object.entries(other.errorsByKind))
    into.errorsByKind[k] = (into.errorsByKind[k] ?? 0) + n;
  if (withLatency && other.hist.totalCount > 0) into.hist.add(other.hist);
  return into;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function latencySummary(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, min: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const ms = (us: number): number => round2(us / 1000);
  const at = (p: number): number => ms(h.getValueAtPercentile(p));
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    avg: ms(h.mean),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: ms(h.maxValue),
  };
}

export function summarize(b: Bucket): OutcomeSummary {
  const rate = (n: number): number => (b.requests ? n / b.requests : 0);
  const { hist: _hist, ...counts } = b;
  return {
    ...counts,
    errorsByKind: { ...b.errorsByKind },
    successRate: rate(b.success),
    rateLimitedRate: rate(b.rateLimited),
    shedRate: rate(b.shed),
    errorRate: rate(b.requests - b.success),
    latencyMs: latencySummary(b.hist),
  };
}

/** Raw buckets of a run: [stage][request]. */
export class RunStats implements RunCells {
  private readonly cells: Bucket[][];

  constructor(
    stageCount: number,
    readonly requestNames: readonly string[],
    private readonly longPoll: ReadonlySet<string> = new Set(),
  ) {
    this.cells = Array.from({ length: stageCount }, () => requestNames.map(newBucket));
  }

  cell(stage: number, request: string): Bucket {
    const index = this.requestNames.indexOf(request);
    if (index < 0) throw new Error(`unknown request ${request}`);
    return this.cells[stage][index];
  }

  /** Merge of the selected cells; long-poll latency only when the selection is that request alone. */
  merge(stage?: number, request?: string): Bucket {
    const out = newBucket();
    this.cells.forEach((row, s) =>
      row.forEach((cell, r) => {
        const name = this.requestNames[r];
        if ((stage === undefined || s === stage) && (request === undefined || name === request))
          addInto(out, cell, request !== undefined || !this.longPoll.has(name));
      }),
    );
    return out;
  }
}
