import * as hdr from 'hdr-histogram-js';

/**
 * Latency and outcome accounting. Each (stage, request) pair owns one HDR histogram (microseconds) and
 * its counters; stage, request and overall figures are merges of those, so every table in the report
 * adds up exactly. Long-poll requests count as requests but stay out of merged latency: a 5 s wait
 * is the endpoint working as designed, not a slow answer.
 */
export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
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

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

export type OutcomeClass = 'success' | 'rate_limited' | 'shed' | 'error';

export interface Classified {
  ok: boolean;
  outcome: OutcomeClass;
  /** For errors: http_<status> or the network error code (ECONNREFUSED, timeout, ...). */
  kind: string;
}

/** Success is an expected status (default: any 2xx); 429 and 503 are counted apart from other errors. */
export function classify(
  status: number,
  expect: readonly number[] | undefined,
  networkError?: string,
): Classified {
  if (networkError) return { ok: false, outcome: 'error', kind: networkError };
  const ok = expect && expect.length ? expect.includes(status) : status >= 200 && status < 300;
  if (ok) return { ok, outcome: 'success', kind: 'success' };
  if (status === 429) return { ok, outcome: 'rate_limited', kind: 'http_429' };
  if (status === 503) return { ok, outcome: 'shed', kind: 'http_503' };
  return { ok, outcome: 'error', kind: `http_${status}` };
}

export class StatsBucket {
  requests = 0;
  success = 0;
  rateLimited = 0;
  shed = 0;
  errors = 0;
  errorsByKind: Record<string, number> = {};
  readonly hist: Histogram = newHistogram();

  record(c: Classified, latencyUs: number): void {
    this.requests++;
    if (c.outcome === 'success') this.success++;
    else if (c.outcome === 'rate_limited') this.rateLimited++;
    else if (c.outcome === 'shed') this.shed++;
    else this.errors++;
    if (!c.ok) this.errorsByKind[c.kind] = (this.errorsByKind[c.kind] ?? 0) + 1;
    this.hist.recordValue(Math.max(1, Math.round(latencyUs)));
  }

  /** Adds another bucket's counts, and its latencies when `withLatency` (false for long-polls). */
  add(other: StatsBucket, withLatency = true): void {
    this.requests += other.requests;
    this.success += other.success;
    this.rateLimited += other.rateLimited;
    this.shed += other.shed;
    this.errors += other.errors;
    for (const [kind, n] of Object.entries(other.errorsByKind))
      this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + n;
    if (withLatency && other.hist.totalCount > 0) this.hist.add(other.hist);
  }

  reset(): void {
    this.requests = this.success = this.rateLimited = this.shed = this.errors = 0;
    this.errorsByKind = {};
    this.hist.reset();
  }
}

export interface LatencySummary {
  count: number;
  min: number;
  avg: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface OutcomeSummary {
  requests: number;
  success: number;
  rateLimited: number;
  shed: number;
  /** Failures other than 429 and 503. */
  errors: number;
  errorsByKind: Record<string, number>;
  successRate: number;
  rateLimitedRate: number;
  shedRate: number;
  errorRate: number;
  /** Milliseconds; long-polls excluded from merged figures. */
  latencyMs: LatencySummary;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function latencySummary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, min: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const ms = (us: number): number => round2(us / 1000);
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    avg: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  };
}

export function summarize(b: StatsBucket): OutcomeSummary {
  const rate = (n: number): number => (b.requests ? n / b.requests : 0);
  return {
    requests: b.requests,
    success: b.success,
    rateLimited: b.rateLimited,
    shed: b.shed,
    errors: b.errors,
    errorsByKind: { ...b.errorsByKind },
    successRate: rate(b.success),
    rateLimitedRate: rate(b.rateLimited),
    shedRate: rate(b.shed),
    errorRate: rate(b.requests - b.success),
    latencyMs: latencySummary(b.hist),
  };
}

/** Raw buckets of a run: [stage][request]. */
export class RunStats {
  readonly cells: StatsBucket[][];

  constructor(
    readonly stageCount: number,
    readonly requestNames: readonly string[],
    private readonly longPoll: ReadonlySet<string>,
  ) {
    this.cells = Array.from({ length: stageCount }, () => requestNames.map(() => new StatsBucket()));
  }

  cell(stage: number, request: string): StatsBucket {
    const index = this.requestNames.indexOf(request);
    if (index < 0) throw new Error(`unknown request ${request}`);
    return this.cells[stage][index];
  }

  /** Merge of the selected cells; long-poll latency only when the selection is that request alone. */
  merge(stage?: number, request?: string): StatsBucket {
    const out = new StatsBucket();
    this.cells.forEach((row, s) => {
      if (stage !== undefined && s !== stage) return;
      row.forEach((cell, r) => {
        const name = this.requestNames[r];
        if (request !== undefined && name !== request) return;
        out.add(cell, request !== undefined || !this.longPoll.has(name));
      });
    });
    return out;
  }
}
