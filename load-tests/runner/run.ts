import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runEngine } from './engine';
import { HttpClient } from './http-client';
import { codeInfo, machineInfo } from './machine';
import { ProcessSampler, type ProcessReport, type WatchedProcess } from './processes';
import { renderHtml } from './render-html';
import { renderMarkdown } from './render-md';
import { buildReport, type Report, type RunInfo } from './report';
import type { Scenario } from './scenario';
import { emptyTaskCheck, followViaApi, followViaPostgres, type TaskCheck } from './tasks-check';

/** One complete run against a target: persona, load, end-to-end check, report files. */
export interface RunOptions {
  scenario: Scenario;
  target: string;
  apiKeys: readonly string[];
  /** Persona for created tasks; default: a fresh one for this run (seeded founder-voice if that fails). */
  persona?: string;
  databaseUrl?: string;
  redisUrl?: string;
  outDir: string;
  mode: RunInfo['mode'];
  command: string;
  settings?: Record<string, string>;
  notes?: string[];
  watch?: readonly WatchedProcess[];
  runId?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  progressEveryMs?: number;
}

export interface RunOutput {
  report: Report;
  files: { json: string; md: string; html: string };
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export const FALLBACK_PERSONA = 'founder-voice';

async function preparePersona(
  client: HttpClient,
  headers: Record<string, string>,
  runId: string,
): Promise<{ persona: string; created: boolean; note?: string }> {
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
  return {
    persona: FALLBACK_PERSONA,
    created: false,
    note: `could not create a persona for this run (POST /v1/personas: ${res.status || res.error}); tasks use ${FALLBACK_PERSONA}`,
  };
}

export async function executeRun(o: RunOptions): Promise<RunOutput> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runId = o.runId ?? newRunId();
  const notes = [...(o.notes ?? [])];
  const headers: Record<string, string> = o.apiKeys.length ? { 'x-api-key': o.apiKeys[0] } : {};
  const admin = new HttpClient(o.target, 2);
  const live = await admin.send({ method: 'GET', path: '/health/live', timeoutMs: 5000 });
  if (live.status !== 200) {
    await admin.destroy();
    throw new Error(
      `target ${o.target} is not live (GET /health/live: ${live.status || live.error}); is the stack running?`,
    );
  }

  let persona = o.persona;
  let createdPersona = false;
  if (!persona) {
    const p = await preparePersona(admin, headers, runId);
    persona = p.persona;
    createdPersona = p.created;
    if (p.note) {
      notes.push(p.note);
      log(`note: ${p.note}`);
    }
  }

  const machine = await machineInfo(o.databaseUrl, o.redisUrl);
  const sampler = new ProcessSampler([...(o.watch ?? []), { name: 'load-generator', pid: process.pid }]);
  log(
    `running ${o.scenario.name} against ${o.target}: ${o.scenario.stages.length} stages, ${o.scenario.stages.reduce((a, s) => a + s.durationMs, 0) / 1000}s, persona ${persona}`,
  );
  sampler.start();
  let processes: ProcessReport[] = [];
  let tasks: TaskCheck | undefined;
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
    if (!o.scenario.followTasks)
      tasks = emptyTaskCheck(engine.accepted.length, 'the scenario does not follow tasks');
    else if (engine.aborted) tasks = emptyTaskCheck(engine.accepted.length, 'the run was interrupted');
    else if (engine.accepted.length === 0)
      tasks = { ...emptyTaskCheck(0, 'no task was accepted'), method: o.databaseUrl ? 'postgres' : 'api' };
    else {
      const follow = {
        accepted: engine.accepted,
        duplicateAccepts: engine.duplicateAccepts,
        deadlineMs: Date.now() + o.scenario.drainTimeoutMs,
        log,
      };
      log(
        `following ${engine.accepted.length} accepted task(s) to a terminal state via ${o.databaseUrl ? 'Postgres' : 'the API'} (up to ${o.scenario.drainTimeoutMs / 1000}s)...`,
      );
      tasks = o.databaseUrl
        ? await followViaPostgres(o.databaseUrl, follow)
        : await followViaApi({
            ...follow,
            target: o.target,
            apiKey: o.apiKeys[0],
            persona,
            runStartedAt: engine.startedAt,
          });
    }
  } finally {
    processes = await sampler.stop();
    if (createdPersona)
      await admin.send({ method: 'DELETE', path: `/v1/personas/${persona}`, headers, timeoutMs: 5000 });
    await admin.destroy();
  }

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
  return { report, files: writeReport(report, o.outDir) };
}

export function writeReport(report: Report, outDir: string): RunOutput['files'] {
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
