import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTRY, freePort, startProcess } from '../../tools/stack';
import { runEngine } from './engine';
import { HttpClient } from './http-client';
import { codeInfo, machineInfo } from '../../tools/report';
import { ProcessSampler } from './processes';
import { renderHtml, renderMarkdown } from './render';
import { buildReport, emptyTaskCheck, floorOf, generatorCheck, judge } from './report';
import { followViaApi, followViaPostgres, notTheApi } from './tasks-check';
import type {
  EngineResult,
  GeneratorFloor,
  Report,
  RunInfo,
  Scenario,
  TaskCheck,
  WatchedProcess,
} from './types';

/** One complete run against a target: checks, persona, load, stack events, end-to-end check, report files. */
export interface RunOptions {
  scenario: Scenario;
  target: string;
  apiKeys: readonly string[];
  /** Persona for created tasks; default: a fresh one for this run (the seeded founder-voice if refused). */
  persona?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Where report.json/md/html go; none: no files. */
  outDir?: string;
  mode: RunInfo['mode'];
  command: string;
  settings?: Record<string, string>;
  notes?: string[];
  watch?: readonly WatchedProcess[];
  signal?: AbortSignal;
  log?: (line: string) => void;
  progressEveryMs?: number;
  /** The generator's floor measured earlier in the same invocation; undefined: not measured. */
  floor?: GeneratorFloor | null;
  /** Check first that the target answers like the agent-platform API (off for the bare baseline). */
  checkApi?: boolean;
  /** What the local stack does during the load (a rolling restart, an llm-sim outage). */
  events?: { atMs: number; run: () => Promise<string> }[];
  stackMetrics?: () => Promise<Record<string, number>>;
}

export interface RunOutput {
  report: Report;
  files?: { json: string; md: string; html: string };
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Live, and answering GET /v1/tasks with a list: otherwise a clear error now, not a crash after the load. */
async function preflight(client: HttpClient, o: RunOptions, headers: Record<string, string>): Promise<void> {
  const live = await client.send({ method: 'GET', path: '/health/live', timeoutMs: 5000 });
  if (live.status !== 200)
    throw new Error(
      `target ${o.target} is not live (GET /health/live: ${live.status || live.error}); is the stack running?`,
    );
  if (o.checkApi === false) return;
  const list = await client.send({ method: 'GET', path: '/v1/tasks?limit=1', headers, timeoutMs: 5000 });
  if (list.status === 401 || list.status === 403)
    throw new Error(
      `target ${o.target} refused the API key (GET /v1/tasks: ${list.status}); pass one with --api-key`,
    );
  let data: unknown;
  try {
    data = (JSON.parse(list.body) as { data?: unknown }).data;
  } catch {
    // not JSON: reported below
  }
  if (list.status !== 200 || !Array.isArray(data))
    throw notTheApi(
      o.target,
      `GET /v1/tasks?limit=1 answered ${list.status || list.error} ${JSON.stringify(list.body.slice(0, 80))}`,
    );
}

/** A persona of the run's own (archived at the end), or the seeded founder-voice when the target refuses. */
async function preparePersona(client: HttpClient, headers: Record<string, string>, runId: string) {
  const id = `load-${runId}`;
  const res = await client.send({
    method: 'POST',
    path: '/v1/personas',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      name: `Load test ${runId}`,
      system_prompt: 'You write short, concrete posts for a load test.',
      model: 'builtin-v1',
      temperature: 0.5,
      max_tokens: 300,
    }),
    timeoutMs: 10000,
  });
  if (res.status === 201 || res.status === 200) return { persona: id, created: true };
  const note = `could not create a persona for this run (POST /v1/personas: ${res.status || res.error}); tasks use founder-voice`;
  return { persona: 'founder-voice', created: false, note };
}

function followTasks(
  o: RunOptions,
  engine: EngineResult,
  persona: string,
  log: (l: string) => void,
): Promise<TaskCheck> {
  const accepted = engine.accepted;
  const skip = !o.scenario.followTasks
    ? 'the scenario does not follow tasks'
    : engine.aborted
      ? 'the run was interrupted'
      : undefined;
  if (skip) return Promise.resolve(emptyTaskCheck(accepted.length, skip));
  const method = o.databaseUrl ? 'postgres' : 'api';
  if (!accepted.length) return Promise.resolve({ ...emptyTaskCheck(0, 'no task was accepted'), method });
  const deadlineMs = Date.now() + o.scenario.drainTimeoutMs;
  const follow = { accepted, duplicateAccepts: engine.duplicateAccepts, deadlineMs, log };
  log(
    `following ${accepted.length} accepted task(s) to a terminal state via ${method} (up to ${o.scenario.drainTimeoutMs / 1000}s)...`,
  );
  if (o.databaseUrl) return followViaPostgres(o.databaseUrl, follow);
  const runStartedAt = engine.startedAt;
  return followViaApi({ ...follow, target: o.target, apiKey: o.apiKeys[0], persona, runStartedAt });
}

export async function executeRun(o: RunOptions): Promise<RunOutput> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runId = newRunId();
  const notes = [...(o.notes ?? [])];
  const headers: Record<string, string> = o.apiKeys.length ? { 'x-api-key': o.apiKeys[0] } : {};
  const admin = new HttpClient(o.target, 2);
  let persona = o.persona;
  let created = false;
  try {
    await preflight(admin, o, headers);
    if (!persona) {
      const p = await preparePersona(admin, headers, runId);
      ({ persona, created } = p);
      if (p.note) notes.push(p.note);
    }
  } catch (err) {
    await admin.destroy();
    throw err;
  }
  const machine = await machineInfo(o.databaseUrl, o.redisUrl);
  const sampler = new ProcessSampler([...(o.watch ?? []), { name: 'load-generator', pid: process.pid }]);
  const seconds = o.scenario.stages.reduce((a, s) => a + s.durationMs, 0) / 1000;
  log(
    `running ${o.scenario.name} against ${o.target}: ${o.scenario.stages.length} stages, ${seconds}s, persona ${persona}`,
  );
  // Events are timed from the start of the load: a late one (an llm-sim outage) falls in the drain.
  const eventsStop = new AbortController();
  const eventErrors: string[] = [];
  const eventsDone = Promise.all(
    (o.events ?? []).map(async (e) => {
      try {
        await sleep(e.atMs, undefined, { signal: eventsStop.signal });
        notes.push(`at ${e.atMs / 1000}s: ${await e.run()}`);
      } catch (err) {
        if (!eventsStop.signal.aborted) eventErrors.push((err as Error).message);
      }
    }),
  );
  sampler.start();
  let tasks: TaskCheck;
  let engine: EngineResult;
  try {
    const progressEveryMs = o.progressEveryMs ?? 5000;
    engine = await runEngine({ ...o, persona, runId, log, progressEveryMs });
    log(`load finished: ${engine.stats.merge().requests} requests, ${engine.accepted.length} tasks accepted`);
    tasks = await followTasks(o, engine, persona, log);
  } finally {
    eventsStop.abort();
    await eventsDone;
    if (created)
      await admin.send({ method: 'DELETE', path: `/v1/personas/${persona}`, headers, timeoutMs: 5000 });
    await admin.destroy();
  }
  const processes = await sampler.stop();
  const { target, command, mode, apiKeys, settings = {} } = o;
  const run = {
    id: runId,
    mode,
    target,
    command,
    code: codeInfo(),
    persona,
    apiKeys: apiKeys.length,
    settings,
    notes,
  };
  const report = buildReport({ scenario: o.scenario, engine, tasks, processes, machine, run });
  if (o.stackMetrics) report.stackMetrics = await o.stackMetrics();
  if (eventErrors.length) {
    const label = `stack events failed: ${eventErrors.join('; ')}`;
    report.thresholds.push({
      metric: 'stack.events',
      info: false,
      label,
      actual: eventErrors.length,
      ok: false,
    });
    report.passed = judge(report.thresholds, report.run.aborted);
  }
  if (o.floor !== undefined) report.generator = generatorCheck(report, o.floor, engine.loopLagMs);
  const outDir = o.outDir;
  if (!outDir) return { report };
  mkdirSync(outDir, { recursive: true });
  const file = (name: string): string => path.join(outDir, name);
  const files = { json: file('report.json'), md: file('report.md'), html: file('report.html') };
  writeFileSync(files.json, JSON.stringify(report, null, 2));
  writeFileSync(files.md, renderMarkdown(report));
  writeFileSync(files.html, renderHtml(report));
  return { report, files };
}

/** The scenario's profile against a null target (bench/baseline/null-target.js): the generator's own floor. */
export async function measureFloor(
  scenario: Scenario,
  o: { log: (line: string) => void; signal?: AbortSignal; progressEveryMs?: number },
): Promise<GeneratorFloor> {
  const port = await freePort();
  const target = `http://127.0.0.1:${port}`;
  const env = { ...process.env, PORT: String(port) };
  const proc = await startProcess({
    name: 'null-target',
    args: [ENTRY.nullTarget],
    env,
    output: 'capture',
    readyUrl: `${target}/health/live`,
  });
  o.log(`measuring the generator's floor: ${scenario.name}'s profile against a null target`);
  try {
    // Every answer of the null target is a success, so each user pauses for the success think time.
    const anySuccess = { ...scenario, requests: scenario.requests.map((r) => ({ ...r, expect: undefined })) };
    const engine = await runEngine({
      ...o,
      scenario: anySuccess,
      target,
      apiKeys: [],
      persona: 'null',
      runId: 'floor',
    });
    return floorOf(anySuccess, engine);
  } finally {
    await proc.stop();
  }
}
