import autocannon from 'autocannon';
import Queue from 'bull';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { RUN_TASK_JOB, TASK_QUEUE, runTaskJobOptions } from '@app/platform/queue/queue.constants';
import * as report from '../tools/report';
import {
  apiKeysEnv,
  deleteRedisPrefix,
  mintApiKey,
  resetData,
  startStack,
  type Stack,
  type StackOptions,
} from '../tools/stack';

/**
 * What every bench mode (bench/modes/*.ts) measures with: stacks of its own on the bench database,
 * autocannon runs, drains of queued tasks timed by the database; and the result every mode writes.
 */
export interface Measurement {
  label: string;
  /** Requests answered 2xx per second, or jobs (tasks) finished per second. */
  rate: number;
  unit: 'req/s' | 'jobs/s' | 'tasks/s';
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
  /** The least ratio that passes; null: the figure is information. */
  target: number | null;
  ok: boolean | null;
}

/** A figure beside the comparisons (calls in flight, peak RSS), with its target when it has one. */
export interface Figure {
  name: string;
  value: string;
  target?: string;
  ok?: boolean;
}

export interface BenchResult {
  schema: 'agent-platform/bench@1';
  startedAt: string;
  command: string;
  code: report.CodeInfo;
  machine: report.MachineInfo;
  settings: Record<string, string | number>;
  comparisons: BenchComparison[];
  figures?: Figure[];
  /** What a mode sampled over the run (seconds since the start, then its figures). */
  samples?: Record<string, number>[];
  notes: string[];
}

export interface BenchOptions {
  mode: string;
  only: string[];
  durationS: number;
  warmupS: number;
  connections: number;
  jobs: number;
  concurrency: string;
  llmLatencyMs: number;
  nodeArgs: string[];
  databaseUrl: string;
  redisUrl: string;
  portBase?: number;
  env: Record<string, string>;
  outDir: string;
}

/** One file in bench/modes: its defaults, the settings it records, and the run. */
export interface BenchMode {
  connections?: number;
  jobs?: number;
  settings(o: BenchOptions): Record<string, string | number>;
  run(b: Bench): Promise<BenchComparison[]>;
}

export const log = (line: string): void => void process.stderr.write(`${line}\n`);
const loadAverage = (): number => Math.round(os.loadavg()[0] * 100) / 100;
const { int } = report;

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

/** The settings of the autocannon modes. */
export const httpSettings = (o: BenchOptions): Record<string, number> => ({
  connections: o.connections,
  'duration (s)': o.durationS,
  'warm-up (s)': o.warmupS,
});

const TASK_BODY = JSON.stringify({
  persona_id: 'founder-voice',
  task_type: 'generate_post',
  pain_statement: 'Our deploys take 40 minutes',
  topic: 'fast feedback loops',
});
const SUCCEEDED = `SELECT count(*)::int AS n FROM tasks WHERE status = 'succeeded'`;

/** What the measurements of one run share: the options, the database, a key, and the stacks started. */
export class Bench {
  readonly prefix = `bench-${Date.now().toString(36)}`;
  readonly key = mintApiKey('bench', 'loadtest');
  readonly notes: string[] = [];
  readonly figures: Figure[] = [];
  samples?: Record<string, number>[];
  private readonly pool: Pool;
  private readonly stacks: Stack[] = [];
  private readonly prefixes = new Set<string>();

  constructor(readonly o: BenchOptions) {
    this.pool = new Pool({ connectionString: o.databaseUrl, max: 2 });
  }

  /** A stack with a queue prefix of its own (deleted at the end); nothing runs that `s` does not ask for. */
  async start(name: string, s: Partial<StackOptions>): Promise<Stack> {
    const { databaseUrl, redisUrl, portBase, concurrency, outDir } = this.o;
    const queuePrefix = `${this.prefix}-${name}`;
    this.prefixes.add(queuePrefix);
    const stack = await startStack({
      databaseUrl,
      redisUrl,
      queuePrefix,
      api: 'none',
      workers: 0,
      llmSim: null,
      apiKeysEnv: apiKeysEnv([this.key]),
      portBase,
      logDir: path.join(outDir, 'logs', name),
      log,
      ...s,
      env: { WORKER_CONCURRENCY: concurrency, ...s.env, ...this.o.env },
    });
    this.stacks.push(stack);
    return stack;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.stacks.splice(0).map((s) => s.stop()));
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.pool.end();
    for (const p of this.prefixes) await deleteRedisPrefix(this.o.redisUrl, p).catch(() => undefined);
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

  /**
   * `jobs` tasks queued straight into Postgres and Bull, then the stack `s` started to drain them; `tick`
   * runs every `everyMs` until they are done. The rate comes from the database's own started_at and
   * finished_at, so process start-up does not count.
   */
  async drain(
    label: string,
    name: string,
    s: Partial<StackOptions>,
    tick?: (stack: Stack) => Promise<void>,
    everyMs = 250,
  ): Promise<Measurement> {
    const { jobs, databaseUrl, redisUrl } = this.o;
    await resetData(databaseUrl);
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO tasks (id, persona_id, task_type, input)
       SELECT gen_random_uuid(), 'founder-voice', 'generate_post', jsonb_build_object('topic', 'bench task ' || g)
       FROM generate_series(1, $1) g RETURNING id::text`,
      [jobs],
    );
    const queue = new Queue(TASK_QUEUE, redisUrl, { prefix: `${this.prefix}-${name}` });
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
    const stack = await this.start(name, { workers: 1, ...s });
    const deadline = Date.now() + Math.max(120_000, jobs * 10);
    let finished = 0;
    while ((finished = await this.count(SUCCEEDED)) < jobs && Date.now() < deadline) {
      await tick?.(stack);
      await sleep(everyMs);
    }
    await this.stopAll();
    const seconds = await this.count(
      `SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at)) AS n FROM tasks WHERE status = 'succeeded'`,
    );
    const rate = seconds > 0 ? Math.round((finished / seconds) * 10) / 10 : 0;
    const volume = `${int(finished)} of ${int(jobs)} tasks in ${seconds.toFixed(2)} s`;
    log(`  ${label}: ${rate} jobs/s (${volume})`);
    if (finished < jobs)
      this.notes.push(`${label}: only ${finished} of ${jobs} finished before the deadline`);
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

export function renderBench(r: BenchResult): string {
  const fmt = (m: Measurement): string => `${int(m.rate)} ${m.unit}`;
  const result = (ok?: boolean | null): string => (ok == null ? 'information' : ok ? 'met' : 'not met');
  const code = `${r.code.commit?.slice(0, 12) ?? 'unknown'}${r.code.dirty ? ' (uncommitted changes)' : ''}`;
  const figures = r.figures ?? [];
  return report
    .markdown([
      {
        title: `# Benchmark: ${r.settings.mode ?? 'baselines'}`,
        text: [
          `Command: \`${r.command}\` at ${r.startedAt}, code ${code}.`,
          '',
          `Machine: ${report.machineLine(r.machine)}. Load generator, services, Postgres and Redis share it.`,
        ],
      },
      {
        header: ['comparison', 'baseline', 'real service', 'ratio', 'target', 'result'],
        rows: r.comparisons.map((c) => {
          const target = c.target === null ? '-' : `>= ${c.target}`;
          return [c.title, fmt(c.baseline), fmt(c.real), c.ratio.toFixed(2), target, result(c.ok)];
        }),
      },
      {
        title: 'Measurements',
        header: ['run', 'throughput', 'volume', 'latency p50 / p90 / p99 / max', 'failures', 'load avg'],
        rows: r.comparisons
          .flatMap((c) => [c.baseline, c.real])
          .map((m) => [m.label, fmt(m), m.volume, m.latency, int(m.failures), String(m.loadAverage)]),
      },
      ...(figures.length
        ? [
            {
              title: 'Figures',
              header: ['figure', 'value', 'target', 'result'],
              rows: figures.map((f) => [f.name, f.value, f.target ?? '-', f.target ? result(f.ok) : '-']),
            },
          ]
        : []),
      {
        title: 'Settings',
        header: ['setting', 'value'],
        rows: Object.entries(r.settings).map(([k, v]) => [k, String(v)]),
      },
      ...(r.notes.length ? [{ title: 'Notes', text: r.notes.map((n) => `- ${n}`) }] : []),
    ])
    .join('\n');
}
