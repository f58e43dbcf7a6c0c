import Queue from 'bull';
import Redis from 'ioredis';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { RUN_TASK_JOB, TASK_QUEUE, runTaskJobOptions } from '@app/platform/queue/queue.constants';

/**
 * `npm run bench -- --llm-latency-ms 1000`: one agent worker on its defaults (openai provider)
 * drains N queued tasks against llm-sim answering each call after a fixed latency, and the run
 * is set against its bound: a worker that keeps `C` calls in flight against a model that takes
 * `L` seconds a call can finish at most C / L calls a second, i.e. C / (2 L) tasks a second
 * (two calls a task: hook and body). Prints tasks/s from the first start to the last finish, the
 * ratio to that bound, the calls llm-sim saw in flight, and the worker's peak RSS.
 *
 * Self-contained (its own process helpers) so it stays out of the way of the rest of the bench.
 */

const ROOT = path.resolve(__dirname, '..');
const WORKER_ENTRY = 'dist/apps/agent-worker/src/main.js';
const SIM_ENTRY = 'dist/apps/llm-sim/src/main.js';
const MIGRATE_ENTRY = 'dist/libs/db/src/migrate.js';
/** Calls one task makes: the hook, then the body. */
const CALLS_PER_TASK = 2;

const FLAG = '--llm-latency-ms';

/** bench.ts hands the run over to this module when its flag is on the command line. */
export function isLlmLatencyBench(args: readonly string[]): boolean {
  return args.some((a) => a === FLAG || a.startsWith(`${FLAG}=`));
}

export interface LlmLatencyResult {
  schema: 'agent-platform/bench-llm-latency@1';
  startedAt: string;
  machine: { cpuModel: string; cores: number; memoryGb: number; node: string; loadAverageAtStart: number[] };
  settings: Record<string, string | number>;
  tasks: number;
  succeeded: number;
  seconds: number;
  tasksPerSecond: number;
  /** The worker's own limit on LLM calls in flight (its llm_calls_max_in_flight gauge). */
  maxInFlight: number;
  boundTasksPerSecond: number;
  ratioToBound: number;
  simInFlight: { mean: number; peak: number };
  workerPeakRssMb: number;
  /** What was sampled every 200 ms: seconds since the worker started, calls in flight at llm-sim, worker RSS. */
  samples: { t: number; inFlight: number; rssMb: number }[];
  targets: { tasksPerSecond: number; peakRssMb: number };
  met: { tasksPerSecond: boolean; peakRssMb: boolean };
}

/** The bound and the ratio to it, from what was measured. */
export function ratioToBound(
  tasksPerSecond: number,
  maxInFlight: number,
  latencyMs: number,
): { boundTasksPerSecond: number; ratio: number } {
  const boundTasksPerSecond = latencyMs > 0 ? maxInFlight / (latencyMs / 1000) / CALLS_PER_TASK : Infinity;
  const ratio =
    Number.isFinite(boundTasksPerSecond) && boundTasksPerSecond > 0
      ? tasksPerSecond / boundTasksPerSecond
      : 0;
  return { boundTasksPerSecond, ratio: Math.round(ratio * 1000) / 1000 };
}

export function renderLlmLatency(r: LlmLatencyResult): string {
  const yes = (ok: boolean) => (ok ? 'met' : 'NOT met');
  return [
    `LLM latency bench: ${r.tasks} tasks, llm-sim ${r.settings.LLM_SIM_LATENCY_MS} ms a call, one worker (${r.settings.worker})`,
    `machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGb} GB, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.join(' ')}`,
    `succeeded:            ${r.succeeded} of ${r.tasks} in ${r.seconds.toFixed(2)} s (first start to last finish)`,
    `throughput:           ${r.tasksPerSecond.toFixed(1)} tasks/s`,
    `bound:                ${r.maxInFlight} calls in flight / ${r.settings.LLM_SIM_LATENCY_MS} ms = ${(r.boundTasksPerSecond * CALLS_PER_TASK).toFixed(0)} calls/s = ${r.boundTasksPerSecond.toFixed(0)} tasks/s`,
    `ratio to the bound:   ${r.ratioToBound.toFixed(3)}`,
    `calls in flight:      mean ${r.simInFlight.mean.toFixed(0)}, peak ${r.simInFlight.peak} (seen by llm-sim)`,
    `worker peak RSS:      ${r.workerPeakRssMb.toFixed(1)} MB`,
    `targets:              >= ${r.targets.tasksPerSecond} tasks/s: ${yes(r.met.tasksPerSecond)}; peak RSS < ${r.targets.peakRssMb} MB: ${yes(r.met.peakRssMb)}`,
  ].join('\n');
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Child {
  child: ChildProcess;
  stop(): Promise<void>;
}

function startNode(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  logDir: string,
  nodeArgs: readonly string[] = [],
): Child {
  const out = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForOk(url: string, child: ChildProcess, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
}

/** Peak RSS (VmHWM) of a live Linux process, in MB; null elsewhere. */
function peakRssMb(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Current RSS via ps (any Unix), in MB. */
function rssMb(pid: number): number {
  const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return out ? Number(out) / 1024 : 0;
}

function gauge(metrics: string, name: string): number | null {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function runLlmLatencyBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      'llm-latency-ms': { type: 'string' },
      tasks: { type: 'string', default: '3000' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      env: { type: 'string', multiple: true },
      // e.g. --node-arg=--cpu-prof --node-arg=--heapsnapshot-signal=SIGUSR2, for the worker only
      'node-arg': { type: 'string', multiple: true },
      'timeout-s': { type: 'string', default: '300' },
      'target-tasks-per-s': { type: 'string', default: '200' },
      'target-rss-mb': { type: 'string', default: '300' },
      out: { type: 'string' },
      gate: { type: 'boolean', default: false },
    },
  });
  const latencyMs = Number(values['llm-latency-ms']);
  const tasks = Number(values.tasks);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error(`${FLAG} must be a whole number >= 0`);
  if (!Number.isInteger(tasks) || tasks < 1) throw new Error('--tasks must be a whole number >= 1');
  const databaseUrl =
    values['database-url'] ??
    process.env.BENCH_DATABASE_URL ??
    'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_bench';
  const redisUrl = values['redis-url'] ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const dbName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  // The run empties tasks and posts: never in a database that is not named for benchmarks.
  if (!/bench|load|perf/.test(dbName))
    throw new Error(`refusing to empty database "${dbName}": its name must contain bench`);
  const workerEnv: Record<string, string> = Object.fromEntries(
    (values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'bench', 'results', `${stamp}-llm-latency`));
  mkdirSync(outDir, { recursive: true });
  const prefix = `bench-llm-${Date.now().toString(36)}`;

  if (
    spawnSync(process.execPath, ['scripts/build.js', '--if-needed'], { cwd: ROOT, stdio: 'inherit' })
      .status !== 0
  )
    throw new Error('build failed');
  const simPort = await freePort();
  const workerPort = await freePort();
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HTTP_HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
  };
  log(`migrating ${dbName}...`);
  const migrated = spawnSync(process.execPath, [MIGRATE_ENTRY], { cwd: ROOT, env: base, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`migration failed: ${migrated.stderr}`);

  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  const children: Child[] = [];
  const stopAll = () => Promise.all(children.splice(0).map((c) => c.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  const loadAverageAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  let result: LlmLatencyResult;
  try {
    await pool.query('TRUNCATE posts, tasks');
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO tasks (id, persona_id, task_type, input)
       SELECT gen_random_uuid(), 'founder-voice', 'generate_post', jsonb_build_object('topic', 'llm bench ' || g)
       FROM generate_series(1, $1) g RETURNING id::text`,
      [tasks],
    );
    const queue = new Queue(TASK_QUEUE, redisUrl, { prefix });
    for (let i = 0; i < rows.length; i += 1000)
      await queue.addBulk(
        rows.slice(i, i + 1000).map((r) => ({
          name: RUN_TASK_JOB,
          data: { taskId: r.id, requestId: null },
          opts: runTaskJobOptions(r.id),
        })),
      );
    await queue.close();

    const sim = startNode(
      'llm-sim',
      SIM_ENTRY,
      { ...base, LLM_SIM_PORT: String(simPort), LLM_SIM_LATENCY_MS: String(latencyMs) },
      outDir,
    );
    children.push(sim);
    const simUrl = `http://127.0.0.1:${simPort}`;
    await waitForOk(`${simUrl}/health/live`, sim.child);
    log(`llm-sim answers after ${latencyMs} ms; ${tasks} tasks queued; starting the worker`);
    const worker = startNode(
      'agent-worker',
      WORKER_ENTRY,
      {
        ...base,
        WORKER_HEALTH_PORT: String(workerPort),
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: `${simUrl}/v1`,
        ...workerEnv,
      },
      outDir,
      values['node-arg'],
    );
    children.push(worker);
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    await waitForOk(`${workerUrl}/health/live`, worker.child);
    const pid = worker.child.pid ?? 0;

    // Calls in flight as llm-sim sees them, and the worker's RSS, sampled until every task is done.
    const samples: LlmLatencyResult['samples'] = [];
    const t0 = Date.now();
    let maxInFlight = 0;
    let done = 0;
    const deadline = Date.now() + Number(values['timeout-s']) * 1000;
    while (Date.now() < deadline) {
      const stats = (await (await fetch(`${simUrl}/admin/stats`)).json()) as { inFlight: number };
      samples.push({ t: (Date.now() - t0) / 1000, inFlight: stats.inFlight, rssMb: Math.round(rssMb(pid)) });
      if (!maxInFlight)
        maxInFlight =
          gauge(await (await fetch(`${workerUrl}/metrics`)).text(), 'llm_calls_max_in_flight') ?? 0;
      done = (
        await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE status = 'succeeded'`)
      ).rows[0].n;
      if (done >= tasks) break;
      await sleep(200);
    }
    const workerPeakRssMb = Math.max(...samples.map((x) => x.rssMb), peakRssMb(pid) ?? 0);
    await stopAll();
    const t = (
      await pool.query<{ s: number | null }>(
        `SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at)) AS s FROM tasks WHERE status = 'succeeded'`,
      )
    ).rows[0];
    const seconds = Number(t.s ?? 0);
    const tasksPerSecond = seconds > 0 ? done / seconds : 0;
    const busy = samples.map((x) => x.inFlight).filter((n) => n > 0);
    const { boundTasksPerSecond, ratio } = ratioToBound(tasksPerSecond, maxInFlight, latencyMs);
    const targets = {
      tasksPerSecond: Number(values['target-tasks-per-s']),
      peakRssMb: Number(values['target-rss-mb']),
    };
    result = {
      schema: 'agent-platform/bench-llm-latency@1',
      startedAt: new Date().toISOString(),
      machine: {
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 1024 ** 3),
        node: process.versions.node,
        loadAverageAtStart,
      },
      settings: {
        LLM_SIM_LATENCY_MS: latencyMs,
        worker: Object.keys(workerEnv).length
          ? Object.entries(workerEnv)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : 'defaults',
        LLM_PROVIDER: 'openai',
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
      },
      tasks,
      succeeded: done,
      seconds,
      tasksPerSecond: Math.round(tasksPerSecond * 10) / 10,
      maxInFlight,
      boundTasksPerSecond,
      ratioToBound: ratio,
      simInFlight: {
        mean: busy.length ? busy.reduce((a, b) => a + b, 0) / busy.length : 0,
        peak: Math.max(0, ...samples.map((x) => x.inFlight)),
      },
      workerPeakRssMb: Math.round(workerPeakRssMb * 10) / 10,
      samples,
      targets,
      met: {
        tasksPerSecond: done === tasks && tasksPerSecond >= targets.tasksPerSecond,
        peakRssMb: workerPeakRssMb < targets.peakRssMb,
      },
    };
  } finally {
    await stopAll();
    await pool.end();
    await deleteRedisPrefix(redisUrl, prefix).catch(() => undefined);
  }
  writeFileSync(path.join(outDir, 'llm-latency.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`\n${renderLlmLatency(result)}\nwritten: ${path.join(outDir, 'llm-latency.json')}\n`);
  return values.gate && !(result.met.tasksPerSecond && result.met.peakRssMb) ? 1 : 0;
}
