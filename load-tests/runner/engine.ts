import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildRequest,
  maxUsers,
  pickRequest,
  stageIndexAt,
  thinkSeconds,
  totalMs,
  usersAt,
  usesTaskId,
} from '../lib/scenario';
import { HttpClient } from './http-client';
import type { RequestSpec } from './schema';
import { RunStats, classify, latencySummary, newBucket, record } from './stats';
import type { AcceptedTask, Classified, EngineResult, Scenario, StageRuntime, TimelinePoint } from './types';

/**
 * The load engine: real virtual users. A scheduler starts and stops users so their number follows the
 * scenario's stages; each user loops "the executor sends one request of the mix, then the user pauses
 * for the think time its outcome calls for"; a recorder keeps the per-stage cells and the timeline.
 */
export interface EngineOptions {
  scenario: Scenario;
  /** Origin of the target, e.g. http://127.0.0.1:8080. */
  target: string;
  /** X-API-Key values; user i sends apiKeys[i % n]. Empty: no header. */
  apiKeys: readonly string[];
  persona: string;
  runId: string;
  /** Stops the run early (Ctrl-C, a watchdog). */
  signal?: AbortSignal;
  random?: () => number;
  log?: (line: string) => void;
  /** A progress line every N ms (0: none). */
  progressEveryMs?: number;
}

/** Timeline resolution: 1 s, coarser for long runs so a soak report stays a few hundred points. */
export const timelineIntervalMs = (totalMs: number): number =>
  Math.max(1000, Math.ceil(totalMs / 600 / 1000) * 1000);

/** Keeps the (stage, request) cells, the per-stage wall time, user-seconds and bytes, and the timeline. */
class Recorder {
  readonly stats: RunStats;
  readonly stages: StageRuntime[];
  readonly points: TimelinePoint[] = [];
  private interval = { bucket: newBucket(), sent: 0, received: 0 };
  private last = { t: 0, sent: 0, received: 0 };
  private nextEnd: number;

  constructor(
    private readonly scenario: Scenario,
    readonly intervalMs: number,
  ) {
    const { stages, requests } = scenario;
    const longPolls = new Set(requests.filter((r) => r.longPoll).map((r) => r.name));
    this.stats = new RunStats(
      stages.length,
      requests.map((r) => r.name),
      longPolls,
    );
    this.stages = stages.map(() => ({
      maxUsers: 0,
      userSeconds: 0,
      sentBytes: 0,
      receivedBytes: 0,
      seconds: 0,
    }));
    this.nextEnd = intervalMs;
  }

  record(tMs: number, request: RequestSpec, c: Classified, latencyUs: number): void {
    record(this.stats.cell(stageIndexAt(this.scenario.stages, tMs), request.name), c, latencyUs);
    record(this.interval.bucket, c, request.longPoll ? 0 : latencyUs);
  }

  /** Accrues user-seconds, wall time and bytes since the last tick; closes the intervals that ended. */
  tick(t: number, users: number, bytes: { sent: number; received: number }): void {
    const windows = this.scenario.stages;
    const rt = this.stages[stageIndexAt(windows, Math.min(t, Math.max(0, totalMs(windows) - 1)))];
    const dt = (t - this.last.t) / 1000;
    const sent = bytes.sent - this.last.sent;
    const received = bytes.received - this.last.received;
    rt.userSeconds += users * dt;
    rt.seconds += dt;
    rt.sentBytes += sent;
    rt.receivedBytes += received;
    rt.maxUsers = Math.max(rt.maxUsers, users);
    this.interval.sent += sent;
    this.interval.received += received;
    this.last = { t, ...bytes };
    for (; t >= this.nextEnd; this.nextEnd += this.intervalMs) this.close(this.nextEnd, users);
  }

  /** Closes the last, partial interval. */
  flush(t: number, users: number): void {
    if (this.interval.bucket.requests > 0) this.close(t, users);
  }

  private close(endMs: number, users: number): void {
    const { bucket: b, sent, received } = this.interval;
    const prev = this.points.length ? this.points[this.points.length - 1].t * 1000 : 0;
    const seconds = (endMs - prev) / 1000 || this.intervalMs / 1000;
    this.points.push({
      t: Math.round(endMs / 100) / 10,
      stage: stageIndexAt(this.scenario.stages, Math.max(0, endMs - 1)),
      users,
      ...{
        requests: b.requests,
        success: b.success,
        rateLimited: b.rateLimited,
        shed: b.shed,
        errors: b.errors,
      },
      rps: Math.round((b.requests / seconds) * 10) / 10,
      latencyMs: latencySummary(b.hist),
      sentBytes: sent,
      receivedBytes: received,
    });
    this.interval = { bucket: newBucket(), sent: 0, received: 0 };
  }
}

interface User {
  index: number;
  iter: number;
  lastTaskId?: string;
  stop: AbortController;
  running: Promise<void>;
}

const RECENT_TASKS = 1000;

/** Sends one request of the mix for a user: templates, key, classification, created task ids. */
class Executor {
  readonly accepted: AcceptedTask[] = [];
  readonly notes: string[] = [];
  duplicateAccepts = 0;
  interrupted = 0;
  private mix: RequestSpec[];
  private readonly creator?: RequestSpec;
  private readonly seen = new Set<string>();
  private readonly recent: string[] = [];
  private readonly confirmed = new Set<string>();
  private readonly needsTaskId: Set<RequestSpec>;
  private seq = 0;

  constructor(
    private readonly o: EngineOptions,
    private readonly client: HttpClient,
    private readonly recorder: Recorder,
    private readonly now: () => number,
    private readonly hardStop: AbortSignal,
    private readonly random: () => number,
  ) {
    this.mix = o.scenario.requests.filter((r) => r.weight > 0);
    this.needsTaskId = new Set(this.mix.filter(usesTaskId));
    this.creator = this.mix.find((r) => r.createsTask && !this.needsTaskId.has(r));
  }

  /** The outcome, or undefined when the graceful stop aborted the request (it then counts nowhere). */
  async run(user: User): Promise<{ ok: boolean; status: number } | undefined> {
    let request = pickRequest(this.mix, this.random);
    const needsTaskId = this.needsTaskId.has(request);
    const recent = this.recent;
    const taskId = needsTaskId
      ? (user.lastTaskId ?? recent[Math.floor(this.random() * recent.length)])
      : undefined;
    if (needsTaskId && !taskId) {
      if (!this.creator)
        throw new Error(`request ${request.name} needs {{taskId}} but no request creates tasks`);
      request = this.creator;
    }
    const { runId, persona, apiKeys } = this.o;
    const values = {
      persona,
      runId,
      vu: user.index + 1,
      iter: user.iter,
      seq: ++this.seq,
      taskId,
      uuid: randomUUID,
    };
    const key = apiKeys.length ? apiKeys[user.index % apiKeys.length] : undefined;
    const res = await this.client.send({
      ...buildRequest(request, values, key),
      timeoutMs: this.o.scenario.requestTimeoutMs,
      signal: this.hardStop,
    });
    if (res.error === 'aborted' && this.hardStop.aborted) {
      this.interrupted++;
      return undefined;
    }
    if (request.optional && res.status === 404 && !this.confirmed.has(request.name)) {
      this.mix = this.mix.filter((r) => r.name !== request.name);
      this.notes.push(
        `${request.method} ${request.path} answered 404: dropped "${request.name}" from the mix`,
      );
      this.o.log?.(`note: ${this.notes[this.notes.length - 1]}`);
      return { ok: true, status: 404 };
    }
    const c = classify(request, res.status, res.error);
    const t = this.now();
    this.recorder.record(t, request, c, res.latencyUs);
    if (c.ok && request.optional) this.confirmed.add(request.name);
    if (c.ok && request.createsTask) this.accept(user, res.status, res.body, t);
    return { ok: c.ok, status: res.status };
  }

  private accept(user: User, status: number, body: string, t: number): void {
    let id: unknown;
    try {
      id = (JSON.parse(body) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id !== 'string') return;
    user.lastTaskId = id;
    // A 200 is an idempotent replay of the same request; a second 202 with a known id is a merge.
    if (this.seen.has(id)) {
      if (status !== 200) this.duplicateAccepts++;
      return;
    }
    this.seen.add(id);
    this.accepted.push({ id, acceptedAtMs: t });
    if (this.recent.length < RECENT_TASKS) this.recent.push(id);
    else this.recent[this.seq % RECENT_TASKS] = id;
  }
}

/** Starts and stops users to match the stage curve; hands out the shared iteration budget. */
class Scheduler {
  readonly active: User[] = [];
  private readonly everyone: User[] = [];
  /** Iterations per user slot: a slot reused after a ramp-down keeps counting, so {{vu}}-{{iter}} stays unique. */
  private readonly iterations: number[] = [];
  private budget: number;

  constructor(
    private readonly scenario: Scenario,
    private readonly executor: Executor,
    private readonly hardStop: AbortSignal,
    private readonly random: () => number,
    private readonly onBudgetSpent: () => void,
  ) {
    this.budget = scenario.iterations ?? Infinity;
  }

  /** Ramp down: the newest users finish their current request, then leave (as k6 does). */
  adjust(want: number): void {
    while (this.active.length < want) this.start();
    while (this.active.length > want) this.active.pop()?.stop.abort();
  }

  settled(): Promise<unknown> {
    return Promise.all(this.everyone.map((u) => u.running));
  }

  private start(): void {
    const user: User = {
      index: this.active.length,
      iter: 0,
      stop: new AbortController(),
      running: Promise.resolve(),
    };
    this.active.push(user);
    this.everyone.push(user);
    user.running = this.loop(user).catch((err: unknown) => {
      this.executor.notes.push(`user ${user.index + 1} stopped on an error: ${(err as Error).message}`);
    });
  }

  private async loop(user: User): Promise<void> {
    const s = this.scenario;
    const pace = s.paced ? s.thinkTime.success : undefined;
    // Paced users start at random points of one period, so together they arrive evenly, not in waves.
    if (typeof pace === 'number') await this.pause(user, pace * this.random());
    while (!user.stop.signal.aborted && !this.hardStop.aborted && this.budget > 0) {
      if (--this.budget === 0) this.onBudgetSpent();
      user.iter = this.iterations[user.index] = (this.iterations[user.index] ?? 0) + 1;
      const started = performance.now();
      const outcome = await this.executor.run(user);
      if (!outcome) return;
      const pause =
        typeof pace === 'number'
          ? pace - (performance.now() - started) / 1000
          : s.closedLoop
            ? 0
            : thinkSeconds(s.thinkTime, outcome.ok, outcome.status, this.random);
      await this.pause(user, pause);
    }
  }

  private async pause(user: User, seconds: number): Promise<void> {
    if (seconds > 0)
      await sleep(seconds * 1000, undefined, { signal: user.stop.signal }).catch(() => undefined);
  }
}

export async function runEngine(o: EngineOptions): Promise<EngineResult> {
  const { scenario } = o;
  const random = o.random ?? Math.random;
  const windows = scenario.stages;
  const plannedMs = totalMs(windows);
  const client = new HttpClient(o.target, maxUsers(windows) + 4);
  const hardStop = new AbortController();
  // Every in-flight request listens on this one signal: hundreds of users are expected, not a leak.
  setMaxListeners(0, hardStop.signal);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const startedAt = new Date();
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const recorder = new Recorder(scenario, timelineIntervalMs(plannedMs));
  const executor = new Executor(o, client, recorder, now, hardStop.signal, random);
  let end: (aborted: boolean) => void = () => undefined;
  const ended = new Promise<boolean>((resolve) => (end = resolve));
  const scheduler = new Scheduler(scenario, executor, hardStop.signal, random, () => end(false));
  let stopping = false;
  let nextProgress = o.progressEveryMs || Infinity;

  const tick = (): void => {
    const t = now();
    if (!stopping) scheduler.adjust(usersAt(windows, t));
    recorder.tick(t, scheduler.active.length, client.bytes());
    if (t < nextProgress) return;
    nextProgress += o.progressEveryMs ?? 0;
    const p = recorder.points[recorder.points.length - 1];
    o.log?.(
      `  t=${Math.round(t / 1000)}s stage ${stageIndexAt(windows, t) + 1}/${windows.length} users ${scheduler.active.length}` +
        (p
          ? ` | last ${recorder.intervalMs / 1000}s: ${p.rps} req/s, p95 ${p.latencyMs.p95} ms, ok ${p.success}, 429 ${p.rateLimited}, 503 ${p.shed}, errors ${p.errors}`
          : ''),
    );
  };

  const onAbort = (): void => end(true);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const endTimer = setTimeout(() => end(false), plannedMs);
  lag.enable();
  tick();
  const timer = setInterval(tick, 50);
  let aborted = false;
  try {
    aborted = await ended;
    stopping = true;
    scheduler.adjust(0);
    // Graceful stop: in-flight requests may finish (and count); what is left after it is aborted.
    const grace = new AbortController();
    const finished = await Promise.race([
      scheduler.settled().then(() => true),
      sleep(aborted ? 0 : scenario.gracefulStopMs, false, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (!finished) {
      hardStop.abort();
      await scheduler.settled();
    }
    tick();
    recorder.flush(now(), 0);
  } finally {
    lag.disable();
    clearInterval(timer);
    clearTimeout(endTimer);
    o.signal?.removeEventListener('abort', onAbort);
    hardStop.abort();
    await client.destroy();
  }
  if (executor.interrupted)
    executor.notes.push(
      `${executor.interrupted} request(s) in flight after the graceful stop were aborted, not counted`,
    );
  // The histogram holds whole timer intervals (resolution + delay): the lag is what exceeds 10 ms.
  const lagMs = (ns: number): number => Math.max(0, Math.round((ns - 1e7) / 1e4) / 100);
  return {
    startedAt,
    durationMs: now(),
    aborted,
    stats: recorder.stats,
    stages: recorder.stages,
    timeline: recorder.points,
    intervalMs: recorder.intervalMs,
    accepted: executor.accepted,
    duplicateAccepts: executor.duplicateAccepts,
    interrupted: executor.interrupted,
    loopLagMs: { p50: lagMs(lag.percentile(50)), p99: lagMs(lag.percentile(99)), max: lagMs(lag.max) },
    notes: executor.notes,
  };
}
