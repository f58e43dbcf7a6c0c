import autocannon from 'autocannon';
import Queue from 'bull';
import Redis from 'ioredis';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { RUN_TASK_JOB, TASK_QUEUE, runTaskJobOptions } from '@app/platform/queue/queue.constants';
import * as report from '../tools/report';
import * as stack from '../tools/stack';
import { isLlmLatencyBench, runLlmLatencyBench } from './llm-latency';

/**
 * npm run bench: real services against bare baselines doing the same work, in one run on one machine.
 *   --mode baselines (default; --only picks some)
 *     ingest: POST /v1/tasks on the orchestrator vs plain Fastify + pg + bull (INSERT + Bull add), autocannon
 *     drain:  the agent worker (builtin provider) vs a bare Bull processor doing the same writes, jobs/s
 *     health: GET /health/live on the orchestrator vs the null target (node:http and a constant)
 *   --mode protection: what the protection layer costs on POST /v1/tasks: the orchestrator without keys,
 *     limiter, shedding or request log, against key + limiter + shedding, and against that plus a log line
 *     per request; with the limiter's Redis EVALs per request.
 * Writes bench.json + bench.md (machine, command, settings, every figure) and prints the table.
 */
export interface Measurement {
  label: string;
  /** Requests answered 2xx per second, or jobs finished per second. */
  rate: number;
  unit: 'req/s' | 'jobs/s';
  volume: string;
  latency: string;
  /** non-2xx answers, errors and timeouts; or jobs not finished. */
  failures: number;
  loadAverage: number;
}

export interface BenchComparison {
  id: string;
  title: string;
  baseline: Measurement;
  real: Measurement;
  ratio: number;
  /** The least ratio that passes; null: the figure is information (protection mode). */
  target: number | null;
  ok: boolean | null;
}

export interface BenchResult {
  schema: 'agent-platform/bench@1';
  startedAt: string;
  command: string;
  code: report.CodeInfo;
  machine: report.MachineInfo;
  settings: Record<string, string | number>;
  comparisons: BenchComparison[];
  notes: string[];
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const loadAverage = (): number => Math.round(os.loadavg()[0] * 100) / 100;
const { int, table } = report;

export function compare(
  id: string,
  title: string,
  baseline: Measurement,
  real: Measurement,
  target: number | null = null,
): BenchComparison {
  const exact = baseline.rate > 0 ? real.rate / baseline.rate : 0;
  const ratio = Math.round(exact * 1000) / 1000;
  // Judged on the exact ratio: 0.4996 rounds to 0.500 but misses a 0.5 target.
  return { id, title, baseline, real, ratio, target, ok: target === null ? null : exact >= target };
}

export function renderBench(r: BenchResult): string {
  const fmt = (m: Measurement): string => `${int(m.rate)} ${m.unit}`;
  const result = (c: BenchComparison): string => (c.ok === null ? 'information' : c.ok ? 'met' : 'not met');
  const code = `${r.code.commit?.slice(0, 12) ?? 'unknown'}${r.code.dirty ? ' (uncommitted changes)' : ''}`;
  return [
    '# Benchmark: the real services against bare baselines',
    '',
    `Command: \`${r.command}\` at ${r.startedAt}, code ${code}.`,
    '',
    `Machine: ${report.machineLine(r.machine)}. Load generator, services, Postgres and Redis share it.`,
    '',
    table(
      ['comparison', 'baseline', 'real service', 'ratio', 'target', 'result'],
      r.comparisons.map((c) => {
        const target = c.target === null ? '-' : `>= ${c.target}`;
        return [c.title, fmt(c.baseline), fmt(c.real), c.ratio.toFixed(2), target, result(c)];
      }),
    ),
    '',
    '## Measurements',
    '',
    table(
      ['run', 'throughput', 'volume', 'latency p50 / p90 / p99 / max', 'failures', 'load avg'],
      r.comparisons
        .flatMap((c) => [c.baseline, c.real])
        .map((m) => [m.label, fmt(m), m.volume, m.latency, int(m.failures), String(m.loadAverage)]),
    ),
    '',
    '## Settings',
    '',
    table(
      ['setting', 'value'],
      Object.entries(r.settings).map(([k, v]) => [k, String(v)]),
    ),
    '',
    ...(r.notes.length ? ['## Notes', '', ...r.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}

interface Options {
  mode: string;
  only: string[];
  durationS: number;
  warmupS: number;
  connections: number;
  jobs: number;
  concurrency: string;
  databaseUrl: string;
  redisUrl: string;
  portBase?: number;
  env: Record<string, string>;
  outDir: string;
}

const TASK_BODY = JSON.stringify({
  persona_id: 'founder-voice',
  task_type: 'generate_post',
  pain_statement: 'Our deploys take 40 minutes',
  topic: 'fast feedback loops',
});

/** What every measurement shares: the database, the env, a key, ports and the started processes. */
class Bench {
  readonly prefix = `bench-${Date.now().toString(36)}`;
  readonly key = stack.mintApiKey('bench', 'loadtest');
  readonly pool: Pool;
  readonly notes: string[] = [];
  private readonly running: stack.Proc[] = [];
  private readonly prefixes: string[] = [];
  private ports = 0;

  constructor(readonly o: Options) {
    this.pool = new Pool({ connectionString: o.databaseUrl, max: 2 });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const { databaseUrl, redisUrl, concurrency } = this.o;
    const apiKeys = stack.apiKeysEnv([this.key]);
    return {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HTTP_HOST: '127.0.0.1',
      API_KEYS: apiKeys,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      WORKER_CONCURRENCY: concurrency,
      // The bench sends no callback_url: production refuses callbacks without a signing secret.
      WEBHOOKS_ENABLED: 'false',
      ...extra,
      ...this.o.env,
    };
  }

  /** Starts a process on a port and with a queue prefix of its own; the prefix is deleted at the end. */
  async start(name: string, entry: string, extra: Record<string, string>, ready = true): Promise<string> {
    const port = String(this.o.portBase ? this.o.portBase + this.ports++ : await stack.freePort());
    const QUEUE_PREFIX = `${this.prefix}-${name}`;
    this.prefixes.push(QUEUE_PREFIX);
    const env = this.env({
      PORT: port,
      ORCHESTRATOR_PORT: port,
      WORKER_HEALTH_PORT: port,
      QUEUE_PREFIX,
      ...extra,
    });
    const url = `http://127.0.0.1:${port}`;
    const output = path.join(this.o.outDir, 'logs', `${name}.log`);
    const readyUrl = ready ? `${url}/health/live` : undefined;
    this.running.push(await stack.startProcess({ name, args: [entry], env, output, readyUrl, log }));
    return url;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((p) => p.stop()));
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.pool.end();
    for (const p of this.prefixes) await stack.deleteRedisPrefix(this.o.redisUrl, p).catch(() => undefined);
  }

  async count(sql: string): Promise<number> {
    return Number((await this.pool.query<{ n: number }>(sql)).rows[0].n ?? 0);
  }

  /** autocannon: a warm-up, then `durationS` seconds at `connections`; the rate counts 2xx answers only. */
  async http(label: string, url: string, headers?: Record<string, string>): Promise<Measurement> {
    const { connections, warmupS, durationS } = this.o;
    const request = headers ? { method: 'POST' as const, body: TASK_BODY } : {};
    const base = {
      url,
      connections,
      ...request,
      headers: { 'content-type': 'application/json', ...headers },
    };
    if (warmupS > 0) await autocannon({ ...base, duration: warmupS });
    const load = loadAverage();
    const r = await autocannon({ ...base, duration: durationS });
    const l = r.latency;
    const m: Measurement = {
      label,
      rate: Math.round((r['2xx'] / r.duration) * 10) / 10,
      unit: 'req/s',
      volume: `${int(r.requests.total)} requests`,
      latency: `${l.p50} / ${l.p90} / ${l.p99} / ${l.max} ms`,
      failures: r.non2xx + r.errors + r.timeouts,
      loadAverage: load,
    };
    log(`  ${label}: ${m.rate} req/s (2xx), p50 ${l.p50} ms, p99 ${l.p99} ms, failures ${m.failures}`);
    return m;
  }

  /** The same N queued tasks for each processor, timed by the database's own started_at/finished_at. */
  async drain(label: string, name: string, entry: string): Promise<Measurement> {
    const { jobs, databaseUrl, redisUrl } = this.o;
    await stack.resetData(databaseUrl);
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO tasks (id, persona_id, task_type, input)
       SELECT gen_random_uuid(), 'founder-voice', 'generate_post', jsonb_build_object('topic', 'bench task ' || g)
       FROM generate_series(1, $1) g RETURNING id::text`,
      [jobs],
    );
    const queue = new Queue(TASK_QUEUE, redisUrl, { prefix: `${this.prefix}-${name}` });
    const job = (id: string) => ({
      name: RUN_TASK_JOB,
      data: { taskId: id, requestId: null },
      opts: runTaskJobOptions(id),
    });
    for (let i = 0; i < rows.length; i += 1000)
      await queue.addBulk(rows.slice(i, i + 1000).map((r) => job(r.id)));
    await queue.close();
    const load = loadAverage();
    await this.start(name, entry, { LLM_PROVIDER: 'builtin' }, false);
    const done = (): Promise<number> =>
      this.count(`SELECT count(*)::int AS n FROM tasks WHERE status = 'succeeded'`);
    const deadline = Date.now() + Math.max(60_000, jobs * 10);
    let finished = 0;
    while ((finished = await done()) < jobs && Date.now() < deadline) await sleep(250);
    await this.stopAll();
    const seconds = await this.count(
      `SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at)) AS n FROM tasks WHERE status = 'succeeded'`,
    );
    const rate = seconds > 0 ? Math.round((finished / seconds) * 10) / 10 : 0;
    const volume = `${int(finished)} of ${int(jobs)} jobs in ${seconds.toFixed(2)} s`;
    log(`  ${label}: ${rate} jobs/s (${volume})`);
    if (finished < jobs)
      this.notes.push(`${label}: only ${finished} of ${jobs} jobs finished before the deadline`);
    return {
      label,
      rate,
      unit: 'jobs/s',
      volume,
      latency: '-',
      failures: jobs - finished,
      loadAverage: load,
    };
  }
}

/** The orchestrator measures capacity, not shedding; no worker drains, so the reconciler stays off. */
const orchestratorEnv = (o: Options) => ({
  RECONCILER_ENABLED: 'false',
  MAX_IN_FLIGHT: String(o.connections * 2),
});

async function baselines(b: Bench): Promise<BenchComparison[]> {
  const { only, connections, jobs, concurrency, durationS } = b.o;
  const key = { 'x-api-key': b.key.key };
  const out: BenchComparison[] = [];
  let ingest: Measurement | undefined;
  let health: Measurement | undefined;
  if (only.includes('ingest')) {
    log('(a) ingest baseline: Fastify + pg + bull');
    const url = await b.start('baseline-server', stack.ENTRY.baselineServer, {});
    const tasks = 'SELECT count(*)::int AS n FROM tasks';
    const before = await b.count(tasks);
    ingest = await b.http('bare Fastify + pg + bull: POST /v1/tasks', `${url}/v1/tasks`, {});
    const written = (await b.count(tasks)) - before;
    // A baseline that answered without writing would make every ratio meaningless.
    if (written < ingest.rate * durationS * 0.9)
      throw new Error(`the baseline answered ${ingest.rate * durationS} tasks but wrote ${written}`);
    await b.stopAll();
  }
  if (only.includes('health')) {
    log('(c) health baseline: the null target (node:http)');
    const url = await b.start('null-target', stack.ENTRY.nullTarget, {});
    health = await b.http('null target (node:http): GET /health/live', `${url}/health/live`);
    await b.stopAll();
  }
  if (ingest || health) {
    log('(a)/(c) the orchestrator');
    const url = await b.start('orchestrator', stack.ENTRY.orchestrator, orchestratorEnv(b.o));
    // Health first, so its figure does not depend on what the ingest run leaves behind (rows, garbage).
    if (health) {
      const real = await b.http('orchestrator: GET /health/live', `${url}/health/live`);
      out.push(compare('health', `(c) GET /health/live, ${connections} connections`, health, real, 0.5));
    }
    if (ingest) {
      const real = await b.http('orchestrator: POST /v1/tasks', `${url}/v1/tasks`, key);
      out.push(compare('ingest', `(a) POST /v1/tasks, ${connections} connections`, ingest, real, 0.8));
    }
    await b.stopAll();
  }
  if (only.includes('drain')) {
    log(`(b) drain ${jobs} jobs, concurrency ${concurrency}`);
    const base = await b.drain('bare Bull processor', 'baseline-worker', stack.ENTRY.baselineWorker);
    const real = await b.drain('agent worker (builtin provider)', 'agent-worker', stack.ENTRY.worker);
    out.push(compare('drain', `(b) worker drain, ${jobs} jobs, concurrency ${concurrency}`, base, real, 0.6));
  }
  const order = ['ingest', 'drain', 'health'];
  return out.sort((x, y) => order.indexOf(x.id) - order.indexOf(y.id));
}

async function protection(b: Bench): Promise<BenchComparison[]> {
  const variant = async (name: string, env: Record<string, string>): Promise<Measurement> => {
    log(`protection: ${name}`);
    // Development mode: production refuses to start without API keys, and the bare variant has none.
    const extra = { ...orchestratorEnv(b.o), NODE_ENV: 'development', MAX_IN_FLIGHT: '100', ...env };
    const url = await b.start(`orchestrator-${name}`, stack.ENTRY.orchestrator, extra);
    const m = await b.http(`orchestrator, ${name}`, `${url}/v1/tasks`, { 'x-api-key': b.key.key });
    if (name === 'protected')
      b.notes.push(
        `the rate limiter ran ${await evalsPerRequest(b, url)} Redis EVALs per request (500 requests)`,
      );
    await b.stopAll();
    return m;
  };
  const off = { API_KEYS: '', RATE_LIMIT_ENABLED: 'false', LOG_REQUESTS: 'false', MAX_IN_FLIGHT: '0' };
  const bare = await variant('bare', off);
  const guarded = await variant('protected', { RATE_LIMIT_ENABLED: 'true', LOG_REQUESTS: 'false' });
  const logged = await variant('logged', {
    RATE_LIMIT_ENABLED: 'true',
    LOG_REQUESTS: 'true',
    LOG_LEVEL: 'info',
  });
  b.notes.push(
    'protection ratios are information: short runs on a shared machine; compare them with each other',
  );
  return [
    compare('protection', 'POST /v1/tasks: API key + rate limiter + shedding, against none', bare, guarded),
    compare(
      'protection-log',
      'POST /v1/tasks: the same plus one log line per request, against none',
      bare,
      logged,
    ),
  ];
}

/** EVAL and EVALSHA (and their _ro forms) all run the limiter's script; the Redis may be shared: rough. */
async function evalsPerRequest(b: Bench, url: string): Promise<number> {
  const redis = new Redis(b.o.redisUrl);
  const stats = async (): Promise<number> =>
    [...(await redis.info('commandstats')).matchAll(/cmdstat_eval\w*:calls=(\d+)/g)].reduce(
      (a, m) => a + +m[1],
      0,
    );
  const before = await stats();
  for (let i = 0; i < 500; i++)
    await fetch(`${url}/v1/tasks?limit=1`, { headers: { 'x-api-key': b.key.key } });
  const evals = (await stats()) - before;
  redis.disconnect();
  return evals / 500;
}

function options(args: string[]): Options & { gate: boolean } {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      mode: { type: 'string', default: 'baselines' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string' },
      jobs: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '16' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'port-base': { type: 'string' },
      only: { type: 'string', default: 'ingest,drain,health' },
      env: { type: 'string', multiple: true },
      out: { type: 'string' },
      gate: { type: 'boolean', default: false },
    },
  });
  if (v.mode !== 'baselines' && v.mode !== 'protection') throw new Error('--mode is baselines or protection');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const defaultDb = 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_bench';
  return {
    mode: v.mode,
    only: v.only.split(','),
    durationS: Number(v.duration),
    warmupS: Number(v.warmup),
    connections: Number(v.connections ?? (v.mode === 'protection' ? 50 : 150)),
    jobs: Number(v.jobs),
    concurrency: v.concurrency,
    databaseUrl: v['database-url'] ?? process.env.BENCH_DATABASE_URL ?? defaultDb,
    redisUrl: v['redis-url'] ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    portBase: v['port-base'] ? Number(v['port-base']) : undefined,
    env: Object.fromEntries(
      (v.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
    outDir: path.resolve(v.out ?? path.join(stack.ROOT, 'bench', 'results', stamp)),
    gate: v.gate,
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (isLlmLatencyBench(args)) return runLlmLatencyBench(args);
  const o = options(args);
  stack.buildIfNeeded();
  const b = new Bench(o);
  process.on('SIGINT', () => void b.close().then(() => process.exit(130)));
  log(`preparing ${report.redactUrl(o.databaseUrl)}...`);
  await stack.migrate(b.env(), path.join(o.outDir, 'logs', 'migrate.log'));
  await stack.resetData(o.databaseUrl);
  const machine = await report.machineInfo(o.databaseUrl, o.redisUrl);
  const comparisons = await (o.mode === 'protection' ? protection(b) : baselines(b)).finally(() => b.close());
  const result: BenchResult = {
    schema: 'agent-platform/bench@1',
    startedAt: new Date().toISOString(),
    command: report.commandLine('bench', args),
    code: report.codeInfo(),
    machine,
    settings: {
      mode: o.mode,
      connections: o.connections,
      'duration (s)': o.durationS,
      'warm-up (s)': o.warmupS,
      ...(o.mode === 'baselines' ? { jobs: o.jobs, WORKER_CONCURRENCY: o.concurrency } : {}),
      database: report.redactUrl(o.databaseUrl),
      LOG_LEVEL: 'warn',
      NODE_ENV: o.mode === 'protection' ? 'development' : 'production',
      ...o.env,
    },
    comparisons,
    notes: b.notes,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(path.join(o.outDir, 'bench.json'), JSON.stringify(result, null, 2));
  const md = renderBench(result);
  writeFileSync(path.join(o.outDir, 'bench.md'), md);
  process.stdout.write(`\n${md}\nwritten: ${path.join(o.outDir, 'bench.md')} and bench.json\n`);
  return o.gate && comparisons.some((c) => c.ok === false) ? 1 : 0;
}

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(3);
    },
  );
