import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { HttpClient } from './http-client';
import { WeightedPicker, expandTemplate, templateVars, type TemplateValues } from './mix';
import type { RequestSpec, Scenario } from './scenario';
import { maxTarget, stageIndexAt, totalDurationMs, usersAt } from './stages';
import { RunStats, StatsBucket, classify, latencySummary, type LatencySummary } from './stats';
import { thinkTimeMs } from './think-time';

/**
 * The load engine: real virtual users. Each user loops "pick a request from the mix, send it, wait for
 * the answer, pause for the think time its outcome calls for"; a scheduler starts and stops users so
 * their number follows the scenario's stages. A closed-loop scenario is the same with no pause.
 */
export interface EngineOptions {
  scenario: Scenario;
  /** Origin of the orchestrator, e.g. http://127.0.0.1:8080. */
  target: string;
  /** X-API-Key values; user i sends apiKeys[i % n]. Empty: no header (auth off). */
  apiKeys: readonly string[];
  persona: string;
  runId: string;
  /** Stops the run early (Ctrl-C, a watchdog). */
  signal?: AbortSignal;
  random?: () => number;
  log?: (line: string) => void;
  /** Progress line every N ms (0: none). */
  progressEveryMs?: number;
}

export interface TimelinePoint {
  /** Seconds since the start, at the end of the interval. */
  t: number;
  stage: number;
  users: number;
  requests: number;
  success: number;
  rateLimited: number;
  shed: number;
  errors: number;
  rps: number;
  latencyMs: LatencySummary;
  sentBytes: number;
  receivedBytes: number;
}

export interface StageRuntime {
  maxUsers: number;
  /** Area under the actual users curve (user-seconds). */
  userSeconds: number;
  sentBytes: number;
  receivedBytes: number;
  /** Wall-clock seconds the stage ran (the last stage includes the graceful stop). */
  seconds: number;
}

export interface AcceptedTask {
  id: string;
  /** ms since the run started, when the 202 arrived. */
  acceptedAtMs: number;
}

export interface EngineResult {
  startedAt: Date;
  durationMs: number;
  aborted: boolean;
  stats: RunStats;
  stages: StageRuntime[];
  timeline: TimelinePoint[];
  intervalMs: number;
  accepted: AcceptedTask[];
  /** A create answered with an id an earlier create already got: the API merged two distinct requests. */
  duplicateAccepts: number;
  /** Requests left unfinished by the graceful stop and aborted (not counted anywhere else). */
  interrupted: number;
  notes: string[];
}

interface CompiledRequest {
  spec: RequestSpec;
  weight: number;
  headers: Record<string, string>;
  body?: string;
  needsTaskId: boolean;
}

interface VirtualUser {
  index: number;
  iter: number;
  stop: AbortController;
  lastTaskId?: string;
  running: Promise<void>;
}

const RECENT_TASKS = 1000;

/** Timeline resolution: 1 s, coarser for long runs so a soak report stays a few hundred points. */
export function timelineIntervalMs(totalMs: number): number {
  return Math.max(1000, Math.ceil(totalMs / 600 / 1000) * 1000);
}

function compile(spec: RequestSpec): CompiledRequest {
  const headers: Record<string, string> = { ...(spec.headers ?? {}) };
  let body: string | undefined;
  if (spec.body !== undefined) {
    body = JSON.stringify(spec.body);
    headers['content-type'] ??= 'application/json';
  }
  const text = [spec.path, JSON.stringify(headers), body ?? ''].join(' ');
  return { spec, weight: spec.weight, headers, body, needsTaskId: templateVars(text).includes('taskId') };
}

export async function runEngine(options: EngineOptions): Promise<EngineResult> {
  const { scenario } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const random = options.random ?? Math.random;
  const windows = scenario.stages;
  const totalMs = totalDurationMs(windows);
  const intervalMs = timelineIntervalMs(totalMs);
  const requestNames = scenario.requests.map((r) => r.name);
  const stats = new RunStats(
    windows.length,
    requestNames,
    new Set(scenario.requests.filter((r) => r.longPoll).map((r) => r.name)),
  );
  const stageRt: StageRuntime[] = windows.map(() => ({
    maxUsers: 0,
    userSeconds: 0,
    sentBytes: 0,
    receivedBytes: 0,
    seconds: 0,
  }));
  const compiled = scenario.requests.map(compile);
  const picker = new WeightedPicker(compiled);
  const creator = compiled.find((c) => c.spec.createsTask && !c.needsTaskId);
  const client = new HttpClient(options.target, maxTarget(windows) + 4);
  const hardStop = new AbortController();
  // Every in-flight request listens on this one signal: hundreds of users are expected, not a leak.
  setMaxListeners(0, hardStop.signal);
  const notes: string[] = [];
  const accepted: AcceptedTask[] = [];
  const seen = new Set<string>();
  const recent: string[] = [];
  let duplicateAccepts = 0;
  let interrupted = 0;
  let seq = 0;
  let aborted = false;
  const optionalConfirmed = new Set<string>();

  const interval = new StatsBucket();
  const timeline: TimelinePoint[] = [];
  const startedAt = new Date();
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;

  const users: VirtualUser[] = [];
  /** Every user ever started (a user ramped down may still be finishing its request at the end). */
  const everyone: VirtualUser[] = [];
  /** Iterations per user slot: a slot reused after a ramp-down keeps counting, so {{vu}}-{{iter}} stays unique. */
  const iterations: number[] = [];
  let stopping = false;

  async function execute(user: VirtualUser): Promise<{ ok: boolean; status: number } | undefined> {
    let request = picker.pick(random);
    let taskId: string | undefined;
    if (request.needsTaskId) {
      taskId = user.lastTaskId ?? (recent.length ? recent[Math.floor(random() * recent.length)] : undefined);
      if (!taskId) {
        if (!creator)
          throw new Error(`request ${request.spec.name} needs {{taskId}} but no request creates tasks`);
        request = creator;
      }
    }
    const values: TemplateValues = {
      persona: options.persona,
      runId: options.runId,
      vu: user.index + 1,
      iter: user.iter,
      seq: ++seq,
      taskId,
    };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = expandTemplate(v, values);
    if (options.apiKeys.length) headers['x-api-key'] = options.apiKeys[user.index % options.apiKeys.length];
    const spec = request.spec;
    const result = await client.send({
      method: spec.method,
      path: expandTemplate(spec.path, values),
      headers,
      body: request.body === undefined ? undefined : expandTemplate(request.body, values),
      timeoutMs: scenario.requestTimeoutMs,
      signal: hardStop.signal,
    });
    if (result.error === 'aborted' && hardStop.signal.aborted) {
      interrupted++;
      return undefined;
    }
    if (spec.optional && result.status === 404 && !optionalConfirmed.has(spec.name)) {
      picker.remove((c) => c.spec.name === spec.name);
      notes.push(
        `${spec.method} ${spec.path} answered 404: dropped "${spec.name}" from the mix (endpoint not on this target)`,
      );
      log(`note: ${notes[notes.length - 1]}`);
      return { ok: true, status: 404 };
    }
    const c = classify(result.status, spec.expect, result.error);
    const endMs = now();
    stats.cell(stageIndexAt(windows, endMs), spec.name).record(c, result.latencyUs);
    interval.record(c, spec.longPoll ? 0 : result.latencyUs);
    if (c.ok && spec.optional) optionalConfirmed.add(spec.name);
    if (c.ok && spec.createsTask) {
      const id = taskIdFrom(result.body);
      if (id) {
        user.lastTaskId = id;
        if (seen.has(id)) {
          if (result.status !== 200) duplicateAccepts++;
        } else {
          seen.add(id);
          accepted.push({ id, acceptedAtMs: endMs });
          if (recent.length < RECENT_TASKS) recent.push(id);
          else recent[seq % RECENT_TASKS] = id;
        }
      }
    }
    return { ok: c.ok, status: result.status };
  }

  async function userLoop(user: VirtualUser): Promise<void> {
    while (!user.stop.signal.aborted && !hardStop.signal.aborted) {
      user.iter = iterations[user.index] = (iterations[user.index] ?? 0) + 1;
      const outcome = await execute(user);
      if (!outcome) return;
      const pause = scenario.closedLoop ? 0 : thinkTimeMs(scenario.thinkTime, outcome, random);
      if (pause > 0) await sleep(pause, undefined, { signal: user.stop.signal }).catch(() => undefined);
    }
  }

  function startUser(): void {
    const user: VirtualUser = {
      index: users.length,
      iter: 0,
      stop: new AbortController(),
      running: Promise.resolve(),
    };
    users.push(user);
    everyone.push(user);
    user.running = userLoop(user).catch((err: unknown) => {
      notes.push(`user ${user.index + 1} stopped on an error: ${(err as Error).message}`);
    });
  }

  function activeUsers(): number {
    return users.length;
  }

  // Scheduler: every tick, match the number of users to the stage curve; account bytes and user-seconds.
  let lastTick = 0;
  let lastBytes = { sent: 0, received: 0 };
  let intervalBytes = { sent: 0, received: 0 };
  let nextIntervalEnd = intervalMs;
  let nextProgress = options.progressEveryMs ?? 5000;

  function closeInterval(endMs: number): void {
    const seconds =
      (endMs - (timeline.length ? timeline[timeline.length - 1].t * 1000 : 0)) / 1000 || intervalMs / 1000;
    timeline.push({
      t: Math.round(endMs / 100) / 10,
      stage: stageIndexAt(windows, Math.max(0, endMs - 1)),
      users: activeUsers(),
      requests: interval.requests,
      success: interval.success,
      rateLimited: interval.rateLimited,
      shed: interval.shed,
      errors: interval.errors,
      rps: Math.round((interval.requests / seconds) * 10) / 10,
      latencyMs: latencySummary(interval.hist),
      sentBytes: intervalBytes.sent,
      receivedBytes: intervalBytes.received,
    });
    interval.reset();
    intervalBytes = { sent: 0, received: 0 };
  }

  function tick(): void {
    const t = now();
    const stage = stageIndexAt(windows, Math.min(t, Math.max(0, totalMs - 1)));
    const rt = stageRt[stage];
    const dt = (t - lastTick) / 1000;
    rt.userSeconds += activeUsers() * dt;
    rt.seconds += dt;
    lastTick = t;
    const bytes = client.bytes();
    const sent = bytes.sent - lastBytes.sent;
    const received = bytes.received - lastBytes.received;
    lastBytes = bytes;
    rt.sentBytes += sent;
    rt.receivedBytes += received;
    intervalBytes.sent += sent;
    intervalBytes.received += received;
    while (t >= nextIntervalEnd) {
      closeInterval(nextIntervalEnd);
      nextIntervalEnd += intervalMs;
    }
    if (!stopping) {
      const want = usersAt(windows, t);
      while (users.length < want) startUser();
      // Ramp down: the newest users finish their current request, then leave (k6 does the same).
      while (users.length > want) {
        const user = users.pop();
        user?.stop.abort();
      }
    }
    rt.maxUsers = Math.max(rt.maxUsers, activeUsers());
    if (options.progressEveryMs && t >= nextProgress) {
      nextProgress += options.progressEveryMs;
      const last = timeline[timeline.length - 1];
      log(
        `  t=${Math.round(t / 1000)}s stage ${stage + 1}/${windows.length} users ${activeUsers()}` +
          (last
            ? ` | last ${intervalMs / 1000}s: ${last.rps} req/s, p95 ${last.latencyMs.p95} ms, ok ${last.success}, 429 ${last.rateLimited}, 503 ${last.shed}, errors ${last.errors}`
            : ''),
      );
    }
  }

  let endTimer: NodeJS.Timeout | undefined;
  const stopped = new Promise<void>((resolve) => {
    const onAbort = (): void => {
      aborted = true;
      resolve();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    endTimer = setTimeout(resolve, totalMs);
  });
  tick();
  const timer = setInterval(tick, 50);
  try {
    await stopped;
    stopping = true;
    for (const user of users.splice(0)) user.stop.abort();
    // Graceful stop: in-flight requests may finish (and count); whatever is left after that is aborted.
    const all = Promise.all(everyone.map((u) => u.running));
    const grace = aborted ? 0 : scenario.gracefulStopMs;
    const graceTimer = new AbortController();
    const finished = await Promise.race([
      all.then(() => true),
      sleep(grace, false, { signal: graceTimer.signal }).catch(() => false),
    ]);
    graceTimer.abort();
    if (!finished) {
      hardStop.abort();
      await all;
    }
    tick();
    if (interval.requests > 0) closeInterval(now());
  } finally {
    clearInterval(timer);
    clearTimeout(endTimer);
    hardStop.abort();
    await client.destroy();
  }
  if (interrupted)
    notes.push(
      `${interrupted} request(s) still in flight after the graceful stop were aborted and not counted`,
    );
  return {
    startedAt,
    durationMs: now(),
    aborted,
    stats,
    stages: stageRt,
    timeline,
    intervalMs,
    accepted,
    duplicateAccepts,
    interrupted,
    notes,
  };
}

function taskIdFrom(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}
