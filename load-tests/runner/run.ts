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
import type { GeneratorFloor, Report, RunInfo, Scenario, TaskCheck, WatchedProcess } from './types';

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
  runId?: string;
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

export const FALLBACK_PERSONA = 'founder-voice';

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

async function preparePersona(client: HttpClient, headers: Record<string, string>, runId: string) {
  const id = `load-${runId}`;
  const body = {
    id,
    name: `Load test ${runId}`,
    system_prompt: 'You write short, concrete posts for a load test.',
    model: 'builtin-v1',
    temperature: 0.5,
    max_tokens: 300,
  };
  const res = await client.send({
    method: 'POST',
    path: '/v1/personas',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    timeoutMs: 10000,
  });
  if (res.status === 201 || res.status === 200) return { persona: id, created: true };
  const note = `could not create a persona for this run (POST /v1/personas: ${res.status || res.error}); tasks use ${FALLBACK_PERSONA}`;
  return { persona: FALLBACK_PERSONA, created: false, note };
}

async function followTasks(
  o: RunOptions,
  engine: Awaited<ReturnType<typeof runEngine>>,
  persona: string,
  log: (l: string) => void,
): Promise<TaskCheck> {
  const accepted = engine.accepted;
  if (!o.scenario.followTasks) return emptyTaskCheck(accepted.length, 'the scenario does not follow tasks');
  if (engine.aborted) return emptyTaskCheck(accepted.length, 'the run was interrupted');
  const method = o.databaseUrl ? 'postgres' : 'api';
  if (!accepted.length) return { ...emptyTaskCheck(0, 'no task was accepted'), method };
  const follow = {
    accepted,
    duplicateAccepts: engine.duplicateAccepts,
    deadlineMs: Date.now() + o.scenario.drainTimeoutMs,
    log,
  };
  log(
    `following ${accepted.length} accepted task(s) to a terminal state via ${method} (up to ${o.scenario.drainTimeoutMs / 1000}s)...`,
  );
  return o.databaseUrl
    ? followViaPostgres(o.databaseUrl, follow)
    : followViaApi({
        ...follow,
        target: o.target,
        apiKey: o.apiKeys[0],
        persona,
        runStartedAt: engine.startedAt,
      });
}

export async function executeRun(o: RunOptions): Promise<RunOutput> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runId = o.runId ?? newRunId();
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
  const eventsStop = new AbortController();
  const eventErrors: string[] = [];
  const events = (o.events ?? []).map(async (e) => {
    await sleep(e.atMs, undefined, { signal: eventsStop.signal });
    notes.push(`at ${e.atMs / 1000}s: ${await e.run()}`);
  });
  const eventsDone = Promise.all(
    events.map((p) =>
      p.catch((err: Error) => void (eventsStop.signal.aborted || eventErrors.push(err.message))),
    ),
  );
  sampler.start();
  let tasks: TaskCheck;
  let engine;
  try {
    engine = await runEngine({
      scenario: o.scenario,
      target: o.target,
      apiKeys: o.apiKeys,
      persona,
      runId,
      signal: o.signal,
      log,
      progressEveryMs: o.progressEveryMs ?? 5000,
    });
    log(`load finished: ${engine.stats.merge().requests} requests, ${engine.accepted.length} tasks accepted`);
    // Events are timed from the start of the load: a late one (an llm-sim outage) falls in the drain.
    tasks = await followTasks(o, engine, persona, log);
  } finally {
    eventsStop.abort();
    await eventsDone;
    if (created)
      await admin.send({ method: 'DELETE', path: `/v1/personas/${persona}`, headers, timeoutMs: 5000 });
    await admin.destroy();
  }
  const processes = await sampler.stop();
  const report = buildReport({
    scenario: o.scenario,
    engine,
    tasks,
    processes,
    machine,
    run: {
      id: runId,
      mode: o.mode,
      target: o.target,
      command: o.command,
      code: codeInfo(),
      persona,
      apiKeys: o.apiKeys.length,
      settings: o.settings ?? {},
      notes,
    },
  });
  if (o.stackMetrics) report.stackMetrics = await o.stackMetrics();
  if (eventErrors.length) {
    report.thresholds.push({
      metric: 'stack.events',
      info: false,
      label: `stack events failed: ${eventErrors.join('; ')}`,
      actual: eventErrors.length,
      ok: false,
    });
    report.passed = judge(report.thresholds, report.run.aborted);
  }
  if (o.floor !== undefined) report.generator = generatorCheck(report, o.floor, engine.loopLagMs);
  return { report, files: o.outDir ? writeReport(report, o.outDir) : undefined };
}

/** The scenario's profile against a null target (bench/baseline/null-target.js): the generator's own floor. */
export async function measureFloor(
  scenario: Scenario,
  o: { log: (line: string) => void; signal?: AbortSignal; progressEveryMs?: number },
): Promise<GeneratorFloor> {
  const port = await freePort();
  const target = await startProcess({
    name: 'null-target',
    args: [ENTRY.nullTarget],
    env: { ...process.env, PORT: String(port) },
    output: 'capture',
    readyUrl: `http://127.0.0.1:${port}/health/live`,
  });
  o.log(`measuring the generator's floor: ${scenario.name}'s profile against a null target`);
  try {
    // Every answer of the null target is a success, so each user pauses for the success think time.
    const anySuccess = { ...scenario, requests: scenario.requests.map((r) => ({ ...r, expect: undefined })) };
    const engine = await runEngine({
      ...o,
      scenario: anySuccess,
      target: `http://127.0.0.1:${port}`,
      apiKeys: [],
      persona: 'null',
      runId: 'floor',
    });
    return floorOf(anySuccess, engine);
  } finally {
    await target.stop();
  }
}

export function writeReport(report: Report, outDir: string): NonNullable<RunOutput['files']> {
  mkdirSync(outDir, { recursive: true });
  const files = {
    json: path.join(outDir, 'report.json'),
    md: path.join(outDir, 'report.md'),
    html: path.join(outDir, 'report.html'),
  };
  writeFileSync(files.json, JSON.stringify(report, null, 2));
  writeFileSync(files.md, renderMarkdown(report));
  writeFileSync(files.html, renderHtml(report));
  return files;
}
