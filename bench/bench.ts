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
import {
  codeInfo,
  commandLine,
  int,
  machineInfo,
  machineLine,
  redactUrl,
  table,
  type CodeInfo,
  type MachineInfo,
} from '../tools/report';
import {
  ENTRY,
  ROOT,
  apiKeysEnv,
  buildIfNeeded,
  deleteRedisPrefix,
  freePort,
  migrate,
  mintApiKey,
  resetData,
  startProcess,
  type Proc,
} from '../tools/stack';

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
const TARGETS = { ingest: 0.8, drain: 0.6, health: 0.5 } as const;

export interface HttpMeasurement {
  label: string;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { avg: number; p50: number; p90: number; p99: number; max: number };
  loadAverage: number;
}

export interface DrainMeasurement {
  label: string;
  jobsPerSecond: number;
  jobs: number;
  succeeded: number;
  seconds: number;
  loadAverage: number;
}

type Measurement = HttpMeasurement | DrainMeasurement;

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
  code: CodeInfo;
  machine: MachineInfo;
  settings: Record<string, string | number>;
  comparisons: BenchComparison[];
  notes: string[];
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const rate = (m: Measurement): number => ('rps' in m ? m.rps : m.jobsPerSecond);
const loadAverage = (): number => Math.round(os.loadavg()[0] * 100) / 100;

export function compare(
  id: string,
  title: string,
  baseline: Measurement,
  real: Measurement,
  target: number | null = null,
): BenchComparison {
  const exact = rate(baseline) > 0 ? rate(real) / rate(baseline) : 0;
  // Judged on the exact ratio: 0.4996 rounds to 0.500 but misses a 0.5 target.
  return {
    id,
    title,
    baseline,
    real,
    ratio: Math.round(exact * 1000) / 1000,
    target,
    ok: target === null ? null : exact >= target,
  };
}

export function renderBench(r: BenchResult): string {
  const fmt = (x: Measurement): string =>
    'rps' in x ? `${int(x.rps)} req/s` : `${int(x.jobsPerSecond)} jobs/s`;
  const detail = (x: Measurement): string[] =>
    'rps' in x
      ? [
          x.label,
          fmt(x),
          int(x.requests),
          `${x.latencyMs.p50} / ${x.latencyMs.p90} / ${x.latencyMs.p99} / ${x.latencyMs.max} ms`,
          int(x.non2xx),
          int(x.errors + x.timeouts),
          String(x.loadAverage),
        ]
      : [
          x.label,
          fmt(x),
          `${int(x.succeeded)} of ${int(x.jobs)} in ${x.seconds.toFixed(2)} s`,
          '-',
          '-',
          int(x.jobs - x.succeeded),
          String(x.loadAverage),
        ];
  return [
    '# Benchmark: the real services against bare baselines',
    '',
    `Command: \`${r.command}\` at ${r.startedAt}, code ${r.code.commit?.slice(0, 12) ?? 'unknown'}${r.code.dirty ? ' (uncommitted changes)' : ''}.`,
    '',
    `Machine: ${machineLine(r.machine)}. Load generator, services, Postgres and Redis all share it.`,
    '',
    table(
      ['comparison', 'baseline', 'real service', 'ratio', 'target', 'result'],
      r.comparisons.map((c) => [
        c.title,
        fmt(c.baseline),
        fmt(c.real),
        c.ratio.toFixed(2),
        c.target === null ? '-' : `>= ${c.target}`,
        c.ok === null ? 'information' : c.ok ? 'met' : 'not met',
      ]),
    ),
    '',
    '## Measurements',
    '',
    table(
      [
        'run',
        'throughput',
        'requests / jobs',
        'latency p50 / p90 / p99 / max',
        'non-2xx',
        'errors',
        'load avg',
      ],
      r.comparisons.flatMap((c) => [detail(c.baseline), detail(c.real)]),
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
  mode: 'baselines' | 'protection';
  only: Set<string>;
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

/** What every measurement shares: the prepared database, the env, a key, ports and the started processes. */
class Bench {
  readonly prefix = `bench-${Date.now().toString(36)}`;
  readonly key = mintApiKey('bench', 'loadtest');
  readonly pool: Pool;
  readonly notes: string[] = [];
  private readonly running: Proc[] = [];
  private readonly prefixes: string[] = [];
  private ports = 0;

  constructor(readonly o: Options) {
    this.pool = new Pool({ connectionString: o.databaseUrl, max: 2 });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const o = this.o;
    return {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HTTP_HOST: '127.0.0.1',
      DATABASE_URL: o.databaseUrl,
      REDIS_URL: o.redisUrl,
      WORKER_CONCURRENCY: o.concurrency,
      API_KEYS: apiKeysEnv([this.key]),
      ...extra,
      ...o.env,
    };
  }

  /** Starts a process on a port of its own, with a queue prefix of its own (deleted at the end). */
  async start(
    name: string,
    entry: string,
    extra: Record<string, string>,
    ready = '/health/live',
  ): Promise<string> {
    const port = this.o.portBase ? this.o.portBase + this.ports++ : await freePort();
    const queuePrefix = `${this.prefix}-${name}`;
    this.prefixes.push(queuePrefix);
    const env = this.env({
      PORT: String(port),
      ORCHESTRATOR_PORT: String(port),
      WORKER_HEALTH_PORT: String(port),
      QUEUE_PREFIX: queuePrefix,
      ...extra,
    });
    const url = `http://127.0.0.1:${port}`;
    this.running.push(
      await startProcess({
        name,
        args: [entry],
        env,
        output: path.join(this.o.outDir, 'logs', `${name}.log`),
        readyUrl: ready && url + ready,
        log,
      }),
    );
    return url;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((p) => p.stop()));
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.pool.end();
    for (const p of this.prefixes) await deleteRedisPrefix(this.o.redisUrl, p).catch(() => undefined);
  }

  async countTasks(where = 'TRUE'): Promise<number> {
    return (await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE ${where}`))
      .rows[0].n;
  }

  /** autocannon: a warm-up, then `durationS` seconds at `connections`; req/s counts 2xx answers only. */
  async http(
    label: string,
    url: string,
    post?: { headers?: Record<string, string> },
  ): Promise<HttpMeasurement> {
    const o = this.o;
    const base = {
      url,
      connections: o.connections,
      method: post ? ('POST' as const) : ('GET' as const),
      body: post ? TASK_BODY : undefined,
      headers: { 'content-type': 'application/json', ...post?.headers },
    };
    if (o.warmupS > 0) await autocannon({ ...base, duration: o.warmupS });
    const load = loadAverage();
    const r = await autocannon({ ...base, duration: o.durationS });
    const l = r.latency;
    const m = {
      label,
      rps: Math.round((r['2xx'] / r.duration) * 10) / 10,
      requests: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      latencyMs: { avg: l.average, p50: l.p50, p90: l.p90, p99: l.p99, max: l.max },
      loadAverage: load,
    };
    log(
      `  ${label}: ${m.rps} req/s (2xx), p50 ${l.p50} ms, p99 ${l.p99} ms, non-2xx ${m.non2xx}, errors ${m.errors}`,
    );
    return m;
  }

  /** The same N queued tasks for each processor, timed by the database's own started_at/finished_at. */
  async drain(label: string, name: string, entry: string): Promise<DrainMeasurement> {
    const { jobs } = this.o;
    await resetData(this.o.databaseUrl);
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO tasks (id, persona_id, task_type, input)
       SELECT gen_random_uuid(), 'founder-voice', 'generate_post', jsonb_build_object('topic', 'bench task ' || g)
       FROM generate_series(1, $1) g RETURNING id::text`,
      [jobs],
    );
    const queue = new Queue(TASK_QUEUE, this.o.redisUrl, { prefix: `${this.prefix}-${name}` });
    for (let i = 0; i < rows.length; i += 1000)
      await queue.addBulk(
        rows.slice(i, i + 1000).map((r) => ({
          name: RUN_TASK_JOB,
          data: { taskId: r.id, requestId: null },
          opts: runTaskJobOptions(r.id),
        })),
      );
    await queue.close();
    const load = loadAverage();
    await this.start(name, entry, { LLM_PROVIDER: 'builtin' }, '');
    const deadline = Date.now() + Math.max(60_000, jobs * 10);
    let done = 0;
    while ((done = await this.countTasks(`status = 'succeeded'`)) < jobs && Date.now() < deadline)
      await sleep(250);
    await this.stopAll();
    const { s } = (
      await this.pool.query<{ s: number | null }>(
        `SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at)) AS s FROM tasks WHERE status = 'succeeded'`,
      )
    ).rows[0];
    const seconds = Number(s ?? 0);
    const m = {
      label,
      jobsPerSecond: seconds > 0 ? Math.round((done / seconds) * 10) / 10 : 0,
      jobs,
      succeeded: done,
      seconds,
      loadAverage: load,
    };
    log(`  ${label}: ${m.jobsPerSecond} jobs/s (${done}/${jobs} in ${seconds.toFixed(2)} s)`);
    if (done < jobs) this.notes.push(`${label}: only ${done} of ${jobs} jobs finished before the deadline`);
    return m;
  }
}

const TASK_BODY = JSON.stringify({
  persona_id: 'founder-voice',
  task_type: 'generate_post',
  pain_statement: 'Our deploys take 40 minutes',
  topic: 'fast feedback loops',
});

/** The orchestrator measures capacity, not shedding, and no worker drains: the reconciler would re-check every task. */
const orchestratorEnv = (o: Options): Record<string, string> => ({
  RECONCILER_ENABLED: 'false',
  MAX_IN_FLIGHT: String(o.connections * 2),
});

async function baselines(b: Bench): Promise<BenchComparison[]> {
  const { only, connections, jobs, concurrency } = b.o;
  const out: BenchComparison[] = [];
  let ingestBase: HttpMeasurement | undefined;
  let healthBase: HttpMeasurement | undefined;
  if (only.has('ingest')) {
    log('(a) ingest baseline: Fastify + pg + bull');
    const url = await b.start('baseline-server', ENTRY.baselineServer, {});
    const before = await b.countTasks();
    ingestBase = await b.http('bare Fastify + pg + bull: POST /v1/tasks', `${url}/v1/tasks`, {});
    const written = (await b.countTasks()) - before;
    // A baseline that answered without writing would make every ratio meaningless.
    if (written < ingestBase.rps * b.o.durationS * 0.9)
      throw new Error(`the baseline answered ${ingestBase.rps * b.o.durationS} tasks but wrote ${written}`);
    await b.stopAll();
  }
  if (only.has('health')) {
    log('(c) health baseline: the null target (node:http)');
    healthBase = await b.http(
      'null target (node:http): GET /health/live',
      `${await b.start('null-target', ENTRY.nullTarget, {})}/health/live`,
    );
    await b.stopAll();
  }
  if (ingestBase || healthBase) {
    log('(a)/(c) the orchestrator');
    const url = await b.start('orchestrator', ENTRY.orchestrator, orchestratorEnv(b.o));
    // Health first, so the probe's figure does not depend on what the ingest run leaves behind (fresh rows, garbage).
    if (healthBase)
      out.push(
        compare(
          'health',
          `(c) GET /health/live, ${connections} connections`,
          healthBase,
          await b.http('orchestrator: GET /health/live', `${url}/health/live`),
          TARGETS.health,
        ),
      );
    if (ingestBase)
      out.push(
        compare(
          'ingest',
          `(a) POST /v1/tasks, ${connections} connections`,
          ingestBase,
          await b.http('orchestrator: POST /v1/tasks', `${url}/v1/tasks`, {
            headers: { 'x-api-key': b.key.key },
          }),
          TARGETS.ingest,
        ),
      );
    await b.stopAll();
  }
  if (only.has('drain')) {
    log(`(b) drain ${jobs} jobs, concurrency ${concurrency}`);
    const base = await b.drain('bare Bull processor', 'baseline-worker', ENTRY.baselineWorker);
    const real = await b.drain('agent worker (builtin provider)', 'agent-worker', ENTRY.worker);
    out.push(
      compare(
        'drain',
        `(b) worker drain, ${jobs} jobs, concurrency ${concurrency}`,
        base,
        real,
        TARGETS.drain,
      ),
    );
  }
  const order = ['ingest', 'drain', 'health'];
  return out.sort((x, y) => order.indexOf(x.id) - order.indexOf(y.id));
}

async function protection(b: Bench): Promise<BenchComparison[]> {
  const post = { headers: { 'x-api-key': b.key.key } };
  const variant = async (name: string, env: Record<string, string>): Promise<HttpMeasurement> => {
    log(`protection: ${name}`);
    // Development mode: production refuses to start without API keys, and the bare variant has none.
    const url = await b.start(`orchestrator-${name}`, ENTRY.orchestrator, {
      ...orchestratorEnv(b.o),
      NODE_ENV: 'development',
      ...env,
    });
    const m = await b.http(`orchestrator, ${name}`, `${url}/v1/tasks`, post);
    if (name === 'protected')
      b.notes.push(
        `the rate limiter sent ${await evalsPerRequest(b, url)} Redis EVALs per request (500 sequential requests; the Redis server may be shared, so this count is rough)`,
      );
    await b.stopAll();
    return m;
  };
  const bare = await variant('bare', {
    API_KEYS: '',
    RATE_LIMIT_ENABLED: 'false',
    LOG_REQUESTS: 'false',
    MAX_IN_FLIGHT: '0',
  });
  const protectedRun = await variant('protected', {
    RATE_LIMIT_ENABLED: 'true',
    LOG_REQUESTS: 'false',
    MAX_IN_FLIGHT: '100',
  });
  const logged = await variant('logged', {
    RATE_LIMIT_ENABLED: 'true',
    LOG_REQUESTS: 'true',
    MAX_IN_FLIGHT: '100',
    LOG_LEVEL: 'info',
  });
  b.notes.push(
    'protection ratios are information: short runs on a shared machine; read them against each other only',
  );
  return [
    compare(
      'protection',
      'POST /v1/tasks: API key + rate limiter + shedding, against none',
      bare,
      protectedRun,
    ),
    compare(
      'protection-log',
      'POST /v1/tasks: the same plus one log line per request, against none',
      bare,
      logged,
    ),
  ];
}

async function evalsPerRequest(b: Bench, url: string): Promise<number> {
  const redis = new Redis(b.o.redisUrl);
  // EVAL and EVALSHA (and their _ro forms) all run the limiter's script.
  const evals = async (): Promise<number> =>
    [...(await redis.info('commandstats')).matchAll(/cmdstat_eval\w*:calls=(\d+)/g)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
  const before = await evals();
  for (let i = 0; i < 500; i++)
    await fetch(`${url}/v1/tasks?limit=1`, { headers: { 'x-api-key': b.key.key } });
  const after = await evals();
  redis.disconnect();
  return (after - before) / 500;
}

function options(args: string[]): Options {
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
  return {
    mode: v.mode,
    only: new Set(v.only.split(',')),
    durationS: Number(v.duration),
    warmupS: Number(v.warmup),
    connections: Number(v.connections ?? (v.mode === 'protection' ? 50 : 150)),
    jobs: Number(v.jobs),
    concurrency: v.concurrency,
    databaseUrl:
      v['database-url'] ??
      process.env.BENCH_DATABASE_URL ??
      'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_bench',
    redisUrl: v['redis-url'] ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    portBase: v['port-base'] ? Number(v['port-base']) : undefined,
    env: Object.fromEntries(
      (v.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
    outDir: path.resolve(v.out ?? path.join(ROOT, 'bench', 'results', stamp)),
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const o = options(args);
  buildIfNeeded();
  const b = new Bench(o);
  process.on('SIGINT', () => void b.close().then(() => process.exit(130)));
  log(`preparing ${redactUrl(o.databaseUrl)}...`);
  await migrate(b.env(), path.join(o.outDir, 'logs', 'migrate.log'));
  await resetData(o.databaseUrl);
  const machine = await machineInfo(o.databaseUrl, o.redisUrl);
  let comparisons: BenchComparison[];
  try {
    comparisons = await (o.mode === 'protection' ? protection(b) : baselines(b));
  } finally {
    await b.close();
  }
  const settings = {
    mode: o.mode,
    connections: o.connections,
    'duration (s)': o.durationS,
    'warm-up (s)': o.warmupS,
    ...(o.mode === 'baselines' ? { jobs: o.jobs, WORKER_CONCURRENCY: o.concurrency } : {}),
    database: redactUrl(o.databaseUrl),
    LOG_LEVEL: 'warn',
    NODE_ENV: o.mode === 'protection' ? 'development' : 'production',
    ...o.env,
  };
  const result: BenchResult = {
    schema: 'agent-platform/bench@1',
    startedAt: new Date().toISOString(),
    command: commandLine('bench', args),
    code: codeInfo(),
    machine,
    settings,
    comparisons,
    notes: b.notes,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(path.join(o.outDir, 'bench.json'), JSON.stringify(result, null, 2));
  const md = renderBench(result);
  writeFileSync(path.join(o.outDir, 'bench.md'), md);
  process.stdout.write(`\n${md}\nwritten: ${path.join(o.outDir, 'bench.md')} and bench.json\n`);
  return args.includes('--gate') && comparisons.some((c) => c.ok === false) ? 1 : 0;
}

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(3);
    },
  );
