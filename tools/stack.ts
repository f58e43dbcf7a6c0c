import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { Client } from 'pg';
import { loadConfig } from '@app/platform/config/load-config';
import { API_SCOPES } from '@app/platform/config/protection.env';

/**
 * Starting processes and whole stacks, for every tool (npm start, the load-test runner, the bench) and
 * the tests: free ports, readiness, API keys, and the platform (llm-sim, orchestrators, with HAProxy in
 * front when there are several, workers) or the bare baseline from bench/baseline. Children run in their
 * own process group, so a terminal Ctrl-C reaches only the tool, which stops each one (SIGTERM, then
 * SIGKILL after a grace period); an exit hook kills whatever is left.
 */
export const ROOT = path.resolve(__dirname, '..');
export const ENTRY = {
  migrate: 'dist/libs/db/src/migrate.js',
  orchestrator: 'dist/apps/orchestrator/src/main.js',
  worker: 'dist/apps/agent-worker/src/main.js',
  llmSim: 'dist/apps/llm-sim/src/main.js',
  baselineServer: 'bench/baseline/tasks-server.js',
  baselineWorker: 'bench/baseline/drain-worker.js',
  nullTarget: 'bench/baseline/null-target.js',
};
export type Log = (line: string) => void;

/** A TCP port that was free a moment ago (the OS picks it), for processes that need a fixed port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `url` until it answers 200; fails early when `alive()` turns false (the process exited). */
export async function waitFor(
  url: string,
  o: { timeoutMs?: number; alive?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (o.alive && !o.alive()) throw new Error(`exited before ${url} answered`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${(o.timeoutMs ?? 60_000) / 1000}s`);
}

export interface ApiKey {
  name: string;
  tier: string;
  scopes: readonly string[];
  /** The secret a client sends in X-API-Key. */
  key: string;
}

/** A fresh random key; only its SHA-256 ever goes into API_KEYS. */
export function mintApiKey(
  name: string,
  tier = 'default',
  scopes: readonly string[] = API_SCOPES,
  prefix = 'ak',
): ApiKey {
  return { name, tier, scopes, key: `${prefix}_${randomBytes(24).toString('base64url')}` };
}

/** The API_KEYS value (hashes only) for these keys. */
export const apiKeysEnv = (keys: readonly ApiKey[]): string =>
  JSON.stringify(
    keys.map((k) => ({
      name: k.name,
      tier: k.tier,
      scopes: k.scopes,
      sha256: createHash('sha256').update(k.key).digest('hex'),
    })),
  );

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** What the process wrote, when started with output 'capture'. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly alive: boolean;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ProcOptions {
  name: string;
  /** Arguments to node (an entry file, relative to the repository root, plus flags), or a whole command. */
  args: string[];
  command?: string;
  env: NodeJS.ProcessEnv;
  /** A log file, the terminal ('inherit'), or memory ('capture'). */
  output: string;
  /** Scheduling priority (nice) of the process; default: the tool's own. */
  nice?: number;
}

const running = new Set<Proc>();
process.on('exit', () => {
  for (const p of running) killGroup(p.pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid])
    try {
      return void process.kill(target, signal);
    } catch {
      // not a group leader, or already gone
    }
}

export function spawnProcess(o: ProcOptions): Proc {
  const pipe = o.output !== 'inherit';
  const child = spawn(o.command ?? process.execPath, o.args, {
    cwd: ROOT,
    env: o.env,
    stdio: ['ignore', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit'],
    detached: true,
  });
  let captured = '';
  if (o.output === 'capture') {
    const keep = (chunk: Buffer): void => void (captured += chunk.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  } else if (pipe) {
    mkdirSync(path.dirname(o.output), { recursive: true });
    const file = createWriteStream(o.output, { flags: 'a' });
    child.stdout?.pipe(file);
    child.stderr?.pipe(file);
  }
  if (o.nice && child.pid) setPriority(child.pid, o.nice);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      child.once('error', () => resolve({ code: null, signal: null, at: Date.now() }));
      child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    },
  );
  const proc: Proc = {
    name: o.name,
    pid: child.pid ?? 0,
    child,
    output: () => captured,
    exited,
    get alive() {
      return child.exitCode === null && child.signalCode === null && !!child.pid;
    },
    async stop(graceMs = 15_000) {
      if (proc.alive) {
        killGroup(proc.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(proc.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(proc);
    },
  };
  if (proc.pid) running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Spawns, then waits until `readyUrl` answers 200 (stopping the process if it never does). */
export async function startProcess(
  o: ProcOptions & { readyUrl?: string; log?: Log; timeoutMs?: number },
): Promise<Proc> {
  const proc = spawnProcess(o);
  try {
    if (!proc.pid) throw new Error('could not be started');
    if (o.readyUrl) await waitFor(o.readyUrl, { timeoutMs: o.timeoutMs, alive: () => proc.alive });
  } catch (err) {
    await proc.stop();
    const where =
      o.output === 'capture' ? `\n${proc.output()}` : o.output === 'inherit' ? '' : ` (log: ${o.output})`;
    throw new Error(`${o.name} ${(err as Error).message}${where}`);
  }
  o.log?.(`${o.name} ${o.readyUrl ? `ready on ${new URL(o.readyUrl).host}` : 'started'} (pid ${proc.pid})`);
  return proc;
}

/** Builds dist/ when sources changed (scripts/build.js --if-needed). */
export function buildIfNeeded(): void {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-needed'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0 || !existsSync(path.join(ROOT, ENTRY.orchestrator)))
    throw new Error('the build failed');
}

/** Creates the database if needed and applies the migrations, with this env. */
export async function migrate(env: NodeJS.ProcessEnv, output: string): Promise<void> {
  const { code } = await spawnProcess({ name: 'migrate', args: [ENTRY.migrate], env, output }).exited;
  if (code !== 0) throw new Error(`migration failed${output === 'inherit' ? '' : ` (see ${output})`}`);
}

const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

/** Empties tasks, posts and their webhook events, only in a database whose name says it is for load tests or benchmarks. */
export async function resetData(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  if (!/(load|bench|perf)/.test(name))
    throw new Error(
      `refusing to empty tasks in database "${name}": its name must contain load, bench or perf`,
    );
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('TRUNCATE webhook_events, posts, tasks').finally(() => client.end());
}

/** Deletes one prefix's Redis keys (SCAN + UNLINK; never FLUSHDB on a shared Redis). */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** llm-sim knobs ({latencyMs: 200}) as its environment (LLM_SIM_LATENCY_MS=200). */
export const llmSimEnv = (knobs: Record<string, string | number | boolean>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(knobs).map(([k, v]) => [
      k.startsWith('LLM_SIM_') ? k : `LLM_SIM_${k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`,
      String(v),
    ]),
  );

/**
 * The values the apps run with for these keys: the env completed with the schema's defaults, so a report
 * says "DB_POOL_MAX 30", not "(default)". No secrets, no URLs.
 */
export function effectiveSettings(env: NodeJS.ProcessEnv, keys: readonly string[]): Record<string, string> {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = loadConfig(env);
  } catch {
    // an env the schema refuses: show what was set
  }
  const out: Record<string, string> = {};
  for (const k of new Set(keys))
    if (!/(KEY|SECRET|PASSWORD|TOKEN|URL)/.test(k) && (parsed[k] ?? env[k]) !== undefined)
      out[k] = String(parsed[k] ?? env[k]);
  return out;
}

export interface StackOptions {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** For every process, over the stack's own settings (scenario stack.env, --env). */
  env: Record<string, string>;
  /** What answers at `target`: orchestrators (HAProxy in front of several), the bare baseline server, the null target, or nothing. */
  api?: 'orchestrator' | 'baseline' | 'null' | 'none';
  orchestrators?: number;
  /** What drains the queue: agent workers, or the bare Bull drain worker of bench/baseline. */
  worker?: 'agent' | 'baseline';
  workers?: number;
  /** llm-sim's LLM_SIM_* env when it should run; null: the agent worker uses its builtin provider. */
  llmSim?: Record<string, string> | null;
  apiKeysEnv?: string;
  /** nice (0-19) of the workers and llm-sim: on one box the background work yields the CPU to the API. */
  backgroundNice?: number;
  /** Node flags for the workers (--cpu-prof, --heapsnapshot-signal=SIGUSR2...). */
  workerNodeArgs?: string[];
  portBase?: number;
  logDir: string;
  log: Log;
}

export interface Stack {
  target: string;
  llmSimUrl?: string;
  processes(): { name: string; pid: number }[];
  settings: Record<string, string>;
  notes: string[];
  /** Replaces each orchestrator replica in turn: a new one ready behind HAProxy, then SIGTERM to the old. */
  rollingRestart(): Promise<string>;
  setLlmSim(knobs: Record<string, unknown>): Promise<string>;
  /** Prometheus samples (name{label="v"}) summed over the stack's processes, plus llm-sim's counts. */
  scrape(samples: readonly string[]): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Starts a stack on a migrated database (see migrate): llm-sim, the API, the workers, HAProxy last. */
export async function startStack(o: StackOptions): Promise<Stack> {
  const api = o.api ?? 'orchestrator';
  const baseline = api === 'baseline' || o.worker === 'baseline';
  const port = async (i: number): Promise<number> => (o.portBase ? o.portBase + i : freePort());
  const local = (p: number): string => `http://127.0.0.1:${p}`;
  const nice = o.backgroundNice ?? 0;
  const notes: string[] = [];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HTTP_HOST: '127.0.0.1',
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: o.queuePrefix,
    // Load tests and the bench send no callback_url: production refuses callbacks without a signing secret.
    WEBHOOKS_ENABLED: 'false',
    ...(o.apiKeysEnv ? { API_KEYS: o.apiKeysEnv } : {}),
    ...o.env,
  };
  /** Started processes, with their /metrics URL. */
  const started: { proc: Proc; metrics?: string }[] = [];
  const launch = async (
    name: string,
    args: string[],
    extra: NodeJS.ProcessEnv,
    http?: { port: number; ready?: string; metrics?: number },
    procNice?: number,
  ): Promise<Proc> => {
    const proc = await startProcess({
      name,
      args,
      env: { ...env, ...extra },
      output: path.join(o.logDir, `${name}.log`),
      readyUrl: http && `${local(http.port)}${http.ready ?? '/health/live'}`,
      log: o.log,
      nice: procNice,
    });
    started.push({ proc, metrics: http?.metrics ? `${local(http.metrics)}/metrics` : undefined });
    return proc;
  };
  const stop = async (): Promise<void> => void (await Promise.all(started.map((p) => p.proc.stop())));
  const targetPort = await port(0);
  const replicas = api === 'orchestrator' ? (o.orchestrators ?? 1) : 1;
  let llmSimUrl: string | undefined;
  let rollingRestart = (): Promise<string> =>
    Promise.reject(new Error('a rolling restart needs stack.orchestrators >= 2'));
  try {
    if (o.llmSim && existsSync(path.join(ROOT, ENTRY.llmSim))) {
      const simPort = await port(10);
      llmSimUrl = local(simPort);
      const simEnv = { LLM_SIM_PORT: String(simPort), ...o.llmSim };
      await launch('llm-sim', [ENTRY.llmSim], simEnv, { port: simPort, metrics: simPort }, nice);
      Object.assign(env, {
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: `${llmSimUrl}/v1`,
        LLM_API_KEY: 'llm-sim',
        ...o.env,
      });
    } else if (!baseline) {
      env.LLM_PROVIDER = o.env.LLM_PROVIDER ?? 'builtin';
      const why = o.llmSim
        ? `${ENTRY.llmSim} is not built`
        : 'the scenario or --llm-sim asks for the builtin provider';
      notes.push(`llm-sim not started (${why}): the worker uses the ${env.LLM_PROVIDER} provider`);
    }
    if (nice > 0)
      notes.push(
        `workers${llmSimUrl ? ' and llm-sim' : ''} run at nice ${nice}: on one box the background work yields the CPU to the API, as separate pods would`,
      );
    if (api === 'baseline' || api === 'null') {
      const entry = api === 'baseline' ? ENTRY.baselineServer : ENTRY.nullTarget;
      const name = api === 'baseline' ? 'baseline-server' : 'null-target';
      await launch(name, [entry], { PORT: String(targetPort) }, { port: targetPort });
    }
    // Several replicas: HAProxy in front, with twice the slots, so a new replica starts before an old one stops.
    const slots =
      api !== 'orchestrator'
        ? []
        : replicas === 1
          ? [targetPort]
          : await Promise.all(Array.from({ length: 2 * replicas }, (_, i) => port(20 + i)));
    const internal = await Promise.all(slots.map((_, i) => port(40 + i)));
    const running: (Proc | undefined)[] = slots.map(() => undefined);
    let generation = 0;
    const startApi = async (slot: number): Promise<Proc> =>
      (running[slot] = await launch(
        `orchestrator-${++generation}`,
        [ENTRY.orchestrator],
        { ORCHESTRATOR_PORT: String(slots[slot]), ORCHESTRATOR_INTERNAL_PORT: String(internal[slot]) },
        { port: slots[slot], ready: '/health/ready', metrics: internal[slot] },
      ));
    for (let i = 0; i < slots.length && i < replicas; i++) await startApi(i);
    for (let i = 0; i < (o.workers ?? 1); i++) {
      const name = `${o.worker === 'baseline' ? 'baseline' : 'agent'}-worker-${i + 1}`;
      const args = [
        ...(o.workerNodeArgs ?? []),
        o.worker === 'baseline' ? ENTRY.baselineWorker : ENTRY.worker,
      ];
      const p = await port(2 + i);
      const http = o.worker === 'baseline' ? undefined : { port: p, metrics: p };
      await launch(name, args, { WORKER_HEALTH_PORT: String(p) }, http, nice);
    }
    if (replicas > 1) {
      const proxy = await startHaproxy(targetPort, slots, o.logDir, o.log);
      started.push({ proc: proxy.proc });
      await proxy.settle(running.map(Boolean));
      rollingRestart = async () => {
        const t0 = Date.now();
        const steps: string[] = [];
        for (const old of slots.map((_, i) => i).filter((i) => running[i])) {
          const next = await startApi(running.findIndex((p) => !p));
          await proxy.settle(running.map(Boolean));
          const prev = running[old]!;
          running[old] = undefined;
          await prev.stop(30_000);
          await proxy.settle(running.map(Boolean));
          steps.push(`pid ${prev.pid} -> ${next.pid}`);
        }
        return `rolling restart of ${replicas} orchestrator replicas (${steps.join(', ')}): ${((Date.now() - t0) / 1000).toFixed(1)}s`;
      };
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const keys = ['NODE_ENV', 'LOG_LEVEL', 'DB_POOL_MAX', 'RATE_LIMIT_ENABLED', 'MAX_IN_FLIGHT'];
  const settings = baseline
    ? { stack: 'bare baseline (bench/baseline)' }
    : effectiveSettings(env, [...keys, 'WORKER_CONCURRENCY', 'LLM_PROVIDER', ...Object.keys(o.env)]);
  if (llmSimUrl) Object.assign(settings, o.llmSim);
  if (replicas > 1) settings.orchestrators = `${replicas} replicas behind HAProxy`;
  const get = (url: string): Promise<string> =>
    fetch(url).then(
      (r) => (r.ok ? r.text() : ''),
      () => '',
    );
  return {
    target: local(targetPort),
    llmSimUrl,
    settings,
    notes,
    processes: () =>
      started
        .filter((p) => p.proc.alive && p.proc.name !== 'haproxy')
        .map(({ proc }) => ({ name: proc.name.replace(/-\d+$/, ''), pid: proc.pid })),
    rollingRestart: () => rollingRestart(),
    async setLlmSim(knobs) {
      if (!llmSimUrl) throw new Error('llm-sim is not running');
      const res = await fetch(`${llmSimUrl}/admin/knobs`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(knobs),
      });
      if (!res.ok) throw new Error(`llm-sim refused knobs ${JSON.stringify(knobs)}: ${res.status}`);
      return `llm-sim knobs set: ${JSON.stringify(knobs)}`;
    },
    async scrape(samples) {
      const live = started.filter((p) => p.proc.alive && p.metrics);
      const lines = (await Promise.all(live.map((p) => get(p.metrics!)))).join('\n').split('\n');
      const out: Record<string, number> = {};
      for (const sample of samples) {
        const [, name, labels = ''] = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?$/.exec(sample) ?? [];
        const want = labels.split(',').filter(Boolean);
        out[sample] = lines
          .filter(
            (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && want.every((w) => l.includes(w)),
          )
          .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      }
      if (llmSimUrl && samples.length) {
        const stats = JSON.parse((await get(`${llmSimUrl}/admin/stats`)) || '{}') as {
          requests?: number;
          byOutcome?: Record<string, number>;
        };
        out['llm-sim requests'] = stats.requests ?? 0;
        for (const [k, n] of Object.entries(stats.byOutcome ?? {})) out[`llm-sim ${k}`] = n;
      }
      return out;
    },
    stop,
  };
}

/** Fails with how to install HAProxy when it is missing (the rolling-restart scenario needs it). */
export function requireHaproxy(env: NodeJS.ProcessEnv = process.env): void {
  if (spawnSync('haproxy', ['-v'], { env }).error)
    throw new Error(
      'haproxy is not installed: apt-get update && apt-get install -y haproxy (see load-tests/README.md)',
    );
}

/** HAProxy in front of the orchestrator slots: readiness checked every 500 ms, one failure marks a replica down, no retries. */
async function startHaproxy(
  port: number,
  slots: number[],
  logDir: string,
  log: Log,
): Promise<{ proc: Proc; settle(up: boolean[]): Promise<void> }> {
  requireHaproxy();
  // HAProxy refuses a stats socket path longer than 97 bytes, which a results folder easily passes.
  const socket = path.join(mkdtempSync(path.join(tmpdir(), 'ap-haproxy-')), 'stats.sock');
  const config = path.join(logDir, 'haproxy.cfg');
  mkdirSync(logDir, { recursive: true });
  writeFileSync(
    config,
    [
      'global',
      `  stats socket ${socket} mode 600 level admin`,
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  retries 0',
      'frontend api',
      `  bind 127.0.0.1:${port}`,
      '  default_backend orchestrators',
      'backend orchestrators',
      '  balance roundrobin',
      '  option httpchk GET /health/ready',
      '  default-server inter 500 fall 1 rise 1',
      ...slots.map((p, i) => `  server slot${i} 127.0.0.1:${p} check`),
      '',
    ].join('\n'),
  );
  const proc = await startProcess({
    name: 'haproxy',
    command: 'haproxy',
    args: ['-f', config, '-db'],
    env: process.env,
    output: path.join(logDir, 'haproxy.log'),
    log,
  });
  const status = (): Promise<string[]> =>
    new Promise((resolve) => {
      let csv = '';
      const s = connect(socket, () => s.end('show stat\n'));
      s.on('data', (d) => (csv += d.toString()));
      s.on('error', () => resolve([]));
      s.on('close', () => {
        const lines = csv.split('\n');
        const col = (lines[0] ?? '').replace(/^# /, '').split(',').indexOf('status');
        resolve(
          slots.map(
            (_, i) => lines.find((l) => l.startsWith(`orchestrators,slot${i},`))?.split(',')[col] ?? '?',
          ),
        );
      });
    });
  return {
    proc,
    /** Waits until HAProxy sees exactly the running replicas UP, so no request goes to an empty slot. */
    async settle(up: boolean[]) {
      const deadline = Date.now() + 20_000;
      for (let s = await status(); !up.every((u, i) => (s[i] === 'UP') === u); s = await status()) {
        if (Date.now() > deadline) throw new Error(`HAProxy did not settle: ${s.join(',')}`);
        await sleep(100);
      }
    },
  };
}
