import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { Client } from 'pg';
import type { WatchedProcess } from './processes';

/**
 * The stack load-test:local (and bench) start: migrate, orchestrator, agent worker, and llm-sim when the
 * build has it, from dist/, on private ports with their own database, Redis database and queue prefix.
 * Children get their own process group so a terminal Ctrl-C reaches only the runner, which then stops
 * each one (SIGTERM, then SIGKILL after a grace period); an exit hook kills whatever is left.
 */
export const ROOT = path.resolve(__dirname, '..', '..');
export const ENTRY = {
  migrate: 'dist/libs/db/src/migrate.js',
  orchestrator: 'dist/apps/orchestrator/src/main.js',
  worker: 'dist/apps/agent-worker/src/main.js',
  llmSim: 'dist/apps/llm-sim/src/main.js',
};

/** The seed's untuned settings, the "before" side of --compare: pool 5, no limiter, no shedding. */
export const SEED_UNTUNED_ENV: Readonly<Record<string, string>> = {
  DB_POOL_MAX: '5',
  RATE_LIMIT_ENABLED: 'false',
  MAX_IN_FLIGHT: '0',
};

/** Every scope the platform defines, so a generated key can call every endpoint a scenario uses. */
export const ALL_SCOPES = ['tasks:read', 'tasks:write', 'personas:read', 'personas:admin', 'admin'];

export interface ApiKey {
  name: string;
  tier: string;
  key: string;
}

/** Fresh random keys for this run, and the API_KEYS value (sha256 only) the orchestrator is started with. */
export function generateApiKeys(
  count: number,
  tier: string,
  runId: string,
): { keys: ApiKey[]; apiKeysEnv: string } {
  const keys = Array.from({ length: count }, (_, i) => ({
    name: `load-${runId}-${i + 1}`,
    tier,
    key: `lt_${randomBytes(24).toString('base64url')}`,
  }));
  const apiKeysEnv = JSON.stringify(
    keys.map((k) => ({
      name: k.name,
      tier: k.tier,
      scopes: ALL_SCOPES,
      sha256: createHash('sha256').update(k.key).digest('hex'),
    })),
  );
  return { keys, apiKeysEnv };
}

export interface StackPorts {
  orchestrator: number;
  worker: number;
  llmSim: number;
}

export interface StackOptions {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  ports: StackPorts;
  /** Env for every process (scenario stack.env, --env, compare's "before" settings). */
  env: Record<string, string>;
  /** llm-sim knobs as LLM_SIM_* variables; used only when llm-sim is started. */
  llmSimEnv: Record<string, string>;
  llmSim: 'auto' | 'off';
  logDir: string;
  log: (line: string) => void;
  /** The orchestrator's API_KEYS value, when the run uses keys. */
  apiKeysEnv?: string;
  startWorker?: boolean;
  /**
   * OS scheduling priority (nice, 0-19) of the agent worker and llm-sim. On one shared box the
   * background worker then yields the CPU to the latency-sensitive API, as it would on pods of
   * its own; it still uses every idle cycle, so the backlog drains at full speed when the API is
   * quiet. 0 = same priority as the API.
   */
  backgroundNice?: number;
  /** Runs after migrations, before the apps start (e.g. emptying the tasks table). */
  afterMigrate?: () => Promise<void>;
}

export interface RunningStack {
  target: string;
  processes: WatchedProcess[];
  /** Settings to print in the report (no secrets). */
  settings: Record<string, string>;
  notes: string[];
  llmSim: boolean;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.pid) killGroup(c.pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Builds dist/ when sources changed (scripts/build.js --if-needed). */
export function buildIfNeeded(log: (line: string) => void): void {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-needed'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error('build failed');
  if (!existsSync(path.join(ROOT, ENTRY.orchestrator)))
    throw new Error(`${ENTRY.orchestrator} is missing after the build`);
  log('build is up to date');
}

export async function freePort(): Promise<number> {
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

/** --port-base N: orchestrator N, worker N+1, llm-sim N+10 (like 8080/8081/8090); otherwise free ports. */
export async function choosePorts(base?: number): Promise<StackPorts> {
  if (base) return { orchestrator: base, worker: base + 1, llmSim: base + 10 };
  return { orchestrator: await freePort(), worker: await freePort(), llmSim: await freePort() };
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/**
 * Empties tasks and posts so every run starts from the same table sizes. Only in a database whose name
 * says it is for load tests or benchmarks: a mistyped URL must never wipe real data.
 */
export async function resetData(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  if (!/(load|bench|perf)/.test(name))
    throw new Error(
      `refusing to empty tasks in database "${name}": its name must contain load, bench or perf (or pass --keep-data)`,
    );
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('TRUNCATE posts, tasks');
  } finally {
    await client.end();
  }
}

/** Deletes this run's Redis keys (SCAN + UNLINK on the prefix only; never FLUSHDB on a shared Redis). */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

function runNode(entry: string, env: NodeJS.ProcessEnv, logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** Creates the database if needed and applies migrations (dist/libs/db/src/migrate.js) with this env. */
export async function migrate(env: NodeJS.ProcessEnv, logDir: string): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'migrate.log');
  if ((await runNode(ENTRY.migrate, env, logFile)) !== 0)
    throw new Error(`migration failed (see ${logFile})`);
}

async function waitForLive(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before it was live`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`not live at ${url} after ${timeoutMs / 1000}s`);
}

export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM to its process group, SIGKILL after 15 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `node <entry>` in its own process group with output to <logDir>/<name>.log, and waits for
 * `liveUrl` to answer 200 (when given). Killed with the runner if the runner exits first.
 */
export async function startProcess(o: {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  liveUrl?: string;
  log: (line: string) => void;
  /** Scheduling priority (nice) of the process; default: the runner's own. */
  nice?: number;
}): Promise<ManagedProcess> {
  mkdirSync(o.logDir, { recursive: true });
  const logFile = path.join(o.logDir, `${o.name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [o.entry], {
    cwd: ROOT,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.add(child);
  if (o.nice && child.pid) setPriority(child.pid, o.nice);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(child);
  };
  try {
    if (!child.pid) throw new Error('could not be started');
    if (o.liveUrl) await waitForLive(o.liveUrl, child, 60000);
  } catch (err) {
    await stop();
    throw new Error(`${o.name} ${(err as Error).message} (log: ${logFile})`);
  }
  o.log(
    `${o.name} ${o.liveUrl ? 'live' : 'started'} (pid ${child.pid})${o.liveUrl ? ` on ${new URL(o.liveUrl).host}` : ''}`,
  );
  return { name: o.name, pid: child.pid, child, stop };
}

export async function startStack(o: StackOptions): Promise<RunningStack> {
  mkdirSync(o.logDir, { recursive: true });
  const notes: string[] = [];
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HTTP_HOST: '127.0.0.1',
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: o.queuePrefix,
    ORCHESTRATOR_PORT: String(o.ports.orchestrator),
    WORKER_HEALTH_PORT: String(o.ports.worker),
    // Load tests send no callback_url: production refuses callbacks without a signing secret.
    WEBHOOKS_ENABLED: 'false',
    ...(o.apiKeysEnv ? { API_KEYS: o.apiKeysEnv } : {}),
    ...o.env,
  };
  const useLlmSim = o.llmSim === 'auto' && existsSync(path.join(ROOT, ENTRY.llmSim));
  if (useLlmSim) {
    Object.assign(base, {
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: `http://127.0.0.1:${o.ports.llmSim}/v1`,
      LLM_API_KEY: 'llm-sim',
      ...o.env,
    });
  } else {
    base.LLM_PROVIDER = o.env.LLM_PROVIDER ?? 'builtin';
    const why =
      o.llmSim === 'off'
        ? 'the scenario or --llm-sim asks for the builtin provider'
        : `${ENTRY.llmSim} is not built`;
    notes.push(`llm-sim not started (${why}): the worker uses the ${base.LLM_PROVIDER} provider`);
    o.log(`note: ${notes[notes.length - 1]}`);
  }

  o.log(`migrating ${databaseName(o.databaseUrl)}...`);
  await migrate(base, o.logDir);
  await o.afterMigrate?.();

  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop()));
  };
  const launch = async (
    name: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    liveUrl: string,
    nice?: number,
  ): Promise<void> => {
    started.push(await startProcess({ name, entry, env, logDir: o.logDir, liveUrl, log: o.log, nice }));
  };
  const nice = o.backgroundNice ?? 0;
  if (nice > 0) {
    notes.push(
      `agent-worker${useLlmSim ? ' and llm-sim' : ''} run at nice ${nice}: on this one box the background work yields the CPU to the API (as separate pods would) and drains the backlog with the CPU the API leaves`,
    );
  }
  try {
    if (useLlmSim)
      await launch(
        'llm-sim',
        ENTRY.llmSim,
        { ...base, LLM_SIM_PORT: String(o.ports.llmSim), ...o.llmSimEnv },
        `http://127.0.0.1:${o.ports.llmSim}/health/live`,
        nice,
      );
    await launch(
      'orchestrator',
      ENTRY.orchestrator,
      base,
      `http://127.0.0.1:${o.ports.orchestrator}/health/live`,
    );
    if (o.startWorker !== false)
      await launch(
        'agent-worker',
        ENTRY.worker,
        base,
        `http://127.0.0.1:${o.ports.worker}/health/live`,
        nice,
      );
  } catch (err) {
    await stop();
    throw err;
  }

  const settings = effectiveSettings(base, [
    'NODE_ENV',
    'LOG_LEVEL',
    'DB_POOL_MAX',
    'RATE_LIMIT_ENABLED',
    'MAX_IN_FLIGHT',
    'WORKER_CONCURRENCY',
    'LLM_PROVIDER',
    ...Object.keys(o.env),
  ]);
  if (useLlmSim) for (const [k, v] of Object.entries(o.llmSimEnv)) settings[k] = v;
  return {
    target: `http://127.0.0.1:${o.ports.orchestrator}`,
    processes: started.map((p) => ({ name: p.name, pid: p.pid })),
    settings,
    notes,
    llmSim: useLlmSim,
    stop,
  };
}

/**
 * The values the apps actually run with for these keys: the env as given, completed with the schema's
 * defaults (read through the built config loader), so a report says "DB_POOL_MAX 30", not "(default)".
 * Secrets and URLs are left out.
 */
export function effectiveSettings(env: NodeJS.ProcessEnv, keys: readonly string[]): Record<string, string> {
  let parsed: Record<string, unknown> = {};
  try {
    // The built app's own loader (dist exists once the stack is built): no compile-time tie to the app code.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const platform = require(path.join(ROOT, 'dist', 'libs', 'platform', 'src')) as {
      loadConfig(source: NodeJS.ProcessEnv): Record<string, unknown>;
    };
    parsed = platform.loadConfig(env);
  } catch {
    // No build, or an env the schema refuses: show what was set.
  }
  const settings: Record<string, string> = {};
  for (const k of new Set(keys)) {
    if (/(KEY|SECRET|PASSWORD|TOKEN|URL)/.test(k)) continue;
    const value = parsed[k] ?? env[k];
    if (value !== undefined) settings[k] = String(value);
  }
  return settings;
}

/** Scenario llmSim knobs ({latencyMs: 200}) as env (LLM_SIM_LATENCY_MS=200). */
export function llmSimEnv(knobs: Record<string, string | number | boolean>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(knobs))
    env[k.startsWith('LLM_SIM_') ? k : `LLM_SIM_${k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`] =
      String(v);
  return env;
}
