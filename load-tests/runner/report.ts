import { computeDrift, type Drift } from './drift';
import type { EngineResult, TimelinePoint } from './engine';
import type { CodeInfo, MachineInfo } from './machine';
import type { ProcessReport } from './processes';
import type { Scenario, ScenarioFile } from './scenario';
import { userSeconds } from './stages';
import { encodeHistogram, summarize, type OutcomeSummary, type StatsBucket } from './stats';
import { emptyTaskCheck, type TaskCheck } from './tasks-check';
import { evaluateThresholds, type ThresholdResult } from './thresholds';
import { meanSuccessThinkSeconds } from './think-time';

/** report.json: everything the Markdown and HTML views show, plus compressed histograms for later merges. */
export const REPORT_SCHEMA = 'agent-platform/load-report@1';

export interface StatsBlock extends OutcomeSummary {
  /** Requests per second over the block's wall-clock time. */
  rps: number;
  seconds: number;
  sentBytes: number;
  receivedBytes: number;
  maxUsers: number;
  userSeconds: number;
  /**
   * The most requests per second the think time allows: user-seconds / success think time (as if every
   * answer took 0 ms). null for closed-loop runs, where there is no think time.
   */
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
  /** Users-curve area the scenario planned for this stage. */
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
  /** Stack settings (load-test:local) or what is known of the target; never secrets. */
  settings: Record<string, string>;
  notes: string[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
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
  overall: StatsBlock;
  requests: Record<string, StatsBlock>;
  stages: StageReport[];
  timeline: { intervalS: number; points: TimelinePoint[] };
  tasks: TaskCheck;
  processes: ProcessReport[];
  /** First vs last quarter of the longest stage; null when it is too short to tell. */
  drift: Drift | null;
  thresholds: ThresholdResult[];
  histograms: { overall: string; stages: string[]; requests: Record<string, string> };
}

export interface ReportInput {
  scenario: Scenario;
  engine: EngineResult;
  tasks?: TaskCheck;
  processes?: ProcessReport[];
  machine: MachineInfo;
  run: Omit<RunInfo, 'startedAt' | 'finishedAt' | 'durationS' | 'aborted' | 'notes'> & { notes?: string[] };
  finishedAt?: Date;
}

function block(
  bucket: StatsBucket,
  seconds: number,
  bytes: { sent: number; received: number },
  users: { max: number; userSeconds: number },
  thinkSeconds: number | null,
): StatsBlock {
  const s = summarize(bucket);
  const rps = seconds > 0 ? bucket.requests / seconds : 0;
  const thinkBoundRps =
    thinkSeconds && thinkSeconds > 0 && seconds > 0 ? users.userSeconds / thinkSeconds / seconds : null;
  return {
    ...s,
    rps: round1(rps),
    seconds: round1(seconds),
    sentBytes: bytes.sent,
    receivedBytes: bytes.received,
    maxUsers: users.max,
    userSeconds: round1(users.userSeconds),
    thinkBoundRps: thinkBoundRps === null ? null : round1(thinkBoundRps),
    efficiency: thinkBoundRps ? Math.round((rps / thinkBoundRps) * 1000) / 1000 : null,
  };
}

export function buildReport(input: ReportInput): Report {
  const { scenario, engine } = input;
  const stats = engine.stats;
  const thinkSeconds = scenario.closedLoop ? null : meanSuccessThinkSeconds(scenario.thinkTime);
  const noBytes = { sent: 0, received: 0 };
  const stages: StageReport[] = scenario.stages.map((w, i) => {
    const rt = engine.stages[i];
    const requestsByName: Record<string, StatsBlock> = {};
    for (const r of stats.requestNames)
      requestsByName[r] = block(
        stats.merge(i, r),
        rt.seconds,
        noBytes,
        { max: rt.maxUsers, userSeconds: 0 },
        null,
      );
    return {
      ...block(
        stats.merge(i),
        rt.seconds,
        { sent: rt.sentBytes, received: rt.receivedBytes },
        { max: rt.maxUsers, userSeconds: rt.userSeconds },
        thinkSeconds,
      ),
      index: i,
      name: w.name,
      from: w.from,
      target: w.target,
      ramp: w.ramp,
      plannedSeconds: w.durationMs / 1000,
      startS: w.startMs / 1000,
      endS: w.endMs / 1000,
      plannedUserSeconds: userSeconds(w),
      requestsByName,
    };
  });
  const seconds = engine.durationMs / 1000;
  const sum = (f: (s: StageReport) => number): number => stages.reduce((a, s) => a + f(s), 0);
  const totals = {
    bytes: { sent: sum((s) => s.sentBytes), received: sum((s) => s.receivedBytes) },
    users: {
      max: Math.max(0, ...engine.stages.map((s) => s.maxUsers)),
      userSeconds: engine.stages.reduce((a, s) => a + s.userSeconds, 0),
    },
  };
  const requests: Record<string, StatsBlock> = {};
  for (const r of stats.requestNames)
    requests[r] = block(
      stats.merge(undefined, r),
      seconds,
      noBytes,
      { max: totals.users.max, userSeconds: 0 },
      null,
    );
  const overallBucket = stats.merge();
  const finishedAt = input.finishedAt ?? new Date();
  const report: Report = {
    schema: REPORT_SCHEMA,
    passed: false,
    scenario: {
      name: scenario.name,
      description: scenario.description,
      model: scenario.file.model,
      stages: scenario.stages.map((w) => ({
        name: w.name,
        from: w.from,
        target: w.target,
        ramp: w.ramp,
        durationS: w.durationMs / 1000,
      })),
      file: scenario.file,
    },
    run: {
      ...input.run,
      startedAt: engine.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: round1(seconds),
      aborted: engine.aborted,
      notes: [...(input.run.notes ?? []), ...engine.notes],
    },
    machine: input.machine,
    overall: block(overallBucket, seconds, totals.bytes, totals.users, thinkSeconds),
    requests,
    stages,
    timeline: { intervalS: engine.intervalMs / 1000, points: engine.timeline },
    tasks: input.tasks ?? emptyTaskCheck(engine.accepted.length, 'tasks were not followed'),
    processes: input.processes ?? [],
    drift: null,
    thresholds: [],
    histograms: {
      overall: encodeHistogram(overallBucket.hist),
      stages: stages.map((_, i) => encodeHistogram(stats.merge(i).hist)),
      requests: Object.fromEntries(
        stats.requestNames.map((r) => [r, encodeHistogram(stats.merge(undefined, r).hist)]),
      ),
    },
  };
  report.drift = computeDrift(report.stages, report.timeline.points, report.processes);
  report.thresholds = evaluateThresholds(report, scenario.thresholds);
  report.passed = !report.run.aborted && report.thresholds.every((t) => t.ok !== false);
  return report;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
