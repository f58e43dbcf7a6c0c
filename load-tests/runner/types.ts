import type { Histogram } from 'hdr-histogram-js';
import type { CodeInfo, MachineInfo } from '../../tools/report';
import type { Outcome, StageWindow, ThinkRules } from '../lib/scenario';
import type { RequestSpec, ScenarioFile, ThresholdSpec } from './schema';

export type { CodeInfo, MachineInfo };

/** The runner's data shapes in one module that imports no runner code, so its modules form no cycle. */

/** A scenario ready to run: stage windows laid out, durations in ms, variables applied. */
export interface Scenario {
  file: ScenarioFile;
  name: string;
  description: string;
  closedLoop: boolean;
  /** Each user starts a request every thinkTime.success seconds, measured from the previous start. */
  paced: boolean;
  stages: StageWindow[];
  /** Total requests after which the run ends (k6's shared-iterations); undefined: the stages decide. */
  iterations?: number;
  thinkTime: ThinkRules;
  requests: RequestSpec[];
  thresholds: ThresholdSpec[];
  followTasks: boolean;
  drainTimeoutMs: number;
  requestTimeoutMs: number;
  gracefulStopMs: number;
}

/** Milliseconds. */
export type LatencySummary = Record<'count' | 'min' | 'avg' | 'p50' | 'p90' | 'p95' | 'p99' | 'max', number>;

/** Outcomes: success, 429, 503, and every other failure (network errors included). */
export type Counts = Record<'requests' | 'success' | 'rateLimited' | 'shed' | 'errors', number>;

/** Outcome counters and a latency histogram (microseconds) of one (stage, request) cell or a merge. */
export interface Bucket extends Counts {
  errorsByKind: Record<string, number>;
  hist: Histogram;
}

/** The raw cells of a run; merges of them make every table, so every table adds up. */
export interface RunCells {
  readonly requestNames: readonly string[];
  merge(stage?: number, request?: string): Bucket;
}

export interface TimelinePoint extends Counts {
  /** Seconds since the start, at the end of the interval. */
  t: number;
  stage: number;
  users: number;
  rps: number;
  latencyMs: LatencySummary;
  sentBytes: number;
  receivedBytes: number;
}

/** Per stage: the most users, the area under the users curve (user-seconds), bytes, and wall-clock seconds. */
export type StageRuntime = Record<
  'maxUsers' | 'userSeconds' | 'sentBytes' | 'receivedBytes' | 'seconds',
  number
>;

export interface AcceptedTask {
  id: string;
  /** ms since the run started, when the 202 arrived. */
  acceptedAtMs: number;
}

export interface EngineResult {
  startedAt: Date;
  durationMs: number;
  aborted: boolean;
  stats: RunCells;
  stages: StageRuntime[];
  timeline: TimelinePoint[];
  intervalMs: number;
  accepted: AcceptedTask[];
  /** A create answered with an id an earlier create got: the API merged two distinct requests. */
  duplicateAccepts: number;
  /** Requests still in flight after the graceful stop, aborted and counted nowhere else. */
  interrupted: number;
  /** The load generator's own event-loop delay while it ran (ms). */
  loopLagMs: { p50: number; p99: number; max: number };
  notes: string[];
}

export interface Classified {
  ok: boolean;
  outcome: Outcome;
  /** For failures: http_<status> or the network error (ECONNREFUSED, timeout...). */
  kind: string;
}

/** Counts and their rates (errorRate: every failure, 429 and 503 included); latency without long-polls. */
export interface OutcomeSummary extends Counts {
  errorsByKind: Record<string, number>;
  successRate: number;
  rateLimitedRate: number;
  shedRate: number;
  errorRate: number;
  latencyMs: LatencySummary;
}

export interface StatsBlock extends OutcomeSummary {
  rps: number;
  seconds: number;
  sentBytes: number;
  receivedBytes: number;
  maxUsers: number;
  userSeconds: number;
  /** The most req/s the think time allows (user-seconds / success pause); null for a closed loop. */
  thinkBoundRps: number | null;
  /** rps / thinkBoundRps. */
  efficiency: number | null;
}

export interface StageReport extends StatsBlock {
  index: number;
  name: string;
  from: number;
  target: number;
  ramp: string;
  plannedSeconds: number;
  startS: number;
  endS: number;
  plannedUserSeconds: number;
  requestsByName: Record<string, StatsBlock>;
}

export interface RunInfo {
  id: string;
  mode: 'run' | 'local' | 'e2e';
  target: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  aborted: boolean;
  command: string;
  code: CodeInfo;
  persona: string;
  apiKeys: number;
  /** Stack settings, or what is known of the target; never secrets. */
  settings: Record<string, string>;
  notes: string[];
}

export interface WatchedProcess {
  name: string;
  pid: number;
}

export interface ProcessReport extends WatchedProcess {
  peakRssMb: number;
  avgCpuPct: number;
  peakCpuPct: number;
  samples: { t: number; rssMb: number; cpuPct: number }[];
}

/**
 * The end-to-end check. lost (must be 0) = missing (accepted but absent from the database, or a 404 from the
 * API) + unfinished (queued or running at the deadline); duplicates (must be 0) = tasks with more than one
 * post, plus creates answered with an id another create got; succeededWithoutPost (an integrity bug) must
 * be 0; completionMs: server side, finished_at - created_at of succeeded tasks.
 */
export interface TaskCheck {
  method: 'postgres' | 'api' | 'none';
  accepted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  lost: number;
  missing: number;
  unfinished: number;
  duplicates: number;
  succeededWithoutPost: number;
  completionMs: LatencySummary;
  completionHistogram?: string;
  drainSeconds: number;
  note?: string;
}

export interface Drift {
  stage: string;
  p95StartMs: number;
  p95EndMs: number;
  /** p95 at the end / at the start of the longest stage: 1 = no drift. */
  p95Ratio: number;
  rssGrowthMb: Record<string, number>;
}

export interface ThresholdResult extends ThresholdSpec {
  label: string;
  actual: number | null;
  /** null: not measured in this run (or stated against a baseline the run did not have). */
  ok: boolean | null;
}

/** The same profile played against a null target in the same run: what the generator itself adds. */
export interface GeneratorFloor {
  latencyMs: LatencySummary;
  rps: number;
  efficiency: number | null;
  errors: number;
  loopLagMs: EngineResult['loopLagMs'];
}

export interface GeneratorCheck {
  floor: GeneratorFloor | null;
  /** Event-loop delay of the measured run. */
  loopLagMs: EngineResult['loopLagMs'];
  cpuAvgPct: number | null;
  /** Why the generator, not the target, may have limited the figures; empty: it did not. */
  bottleneck: string[];
}

export interface Report {
  schema: 'agent-platform/load-report@1';
  passed: boolean;
  scenario: {
    name: string;
    description: string;
    model: string;
    stages: { name: string; from: number; target: number; ramp: string; durationS: number }[];
    file: ScenarioFile;
  };
  run: RunInfo;
  machine: MachineInfo;
  generator?: GeneratorCheck;
  overall: StatsBlock;
  requests: Record<string, StatsBlock>;
  stages: StageReport[];
  timeline: { intervalS: number; points: TimelinePoint[] };
  tasks: TaskCheck;
  processes: ProcessReport[];
  /** Prometheus samples summed over the local stack after the run (scenario stack.metrics). */
  stackMetrics?: Record<string, number>;
  drift: Drift | null;
  thresholds: ThresholdResult[];
  histograms: { overall: string; stages: string[]; requests: Record<string, string> };
}

/** One figure across A/B rounds: A_i / B_i per pair, their median and spread. */
export interface RatioRow {
  metric: string;
  a: number[];
  b: number[];
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

/** --baseline (platform vs bare baseline) or --compare (tuned vs the seed's settings), in alternating rounds. */
export interface ABReport {
  schema: 'agent-platform/load-ab@1';
  kind: 'baseline' | 'compare';
  passed: boolean;
  scenario: string;
  labels: { a: string; b: string };
  startedAt: string;
  command: string;
  code: CodeInfo;
  machine: MachineInfo;
  generator: GeneratorCheck;
  rows: RatioRow[];
  thresholds: ThresholdResult[];
  rounds: { side: 'a' | 'b'; dir: string; passed: boolean; settings: Record<string, string> }[];
  notes: string[];
}
