import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as report from '../tools/report';
import { ROOT, buildIfNeeded, migrate, resetData } from '../tools/stack';
import { Bench, log, renderBench, type BenchMode, type BenchOptions, type BenchResult } from './measure';
import baselines from './modes/baselines';
import llmLatency from './modes/llm-latency';
import protection from './modes/protection';
import sseStreams from './modes/sse-streams';

/**
 * npm run bench -- [--mode baselines|protection|llm-latency|sse-streams] [options]: one mode (a file in bench/modes)
 * measured on stacks of its own, in one run on one machine. Writes bench.json + bench.md (machine, command,
 * settings, every figure) and prints the table; --gate exits 1 when a target is missed.
 */
const MODES: Record<string, BenchMode> = {
  baselines,
  protection,
  'llm-latency': llmLatency,
  'sse-streams': sseStreams,
};

function options(args: string[]): BenchOptions & { gate: boolean } {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      mode: { type: 'string' },
      'llm-latency-ms': { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string' },
      jobs: { type: 'string' },
      tasks: { type: 'string' },
      streams: { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'port-base': { type: 'string' },
      only: { type: 'string', default: 'ingest,drain,health' },
      env: { type: 'string', multiple: true },
      'node-arg': { type: 'string', multiple: true },
      out: { type: 'string' },
      gate: { type: 'boolean', default: false },
    },
  });
  const name = v.mode ?? (v['llm-latency-ms'] === undefined ? 'baselines' : 'llm-latency');
  const mode = MODES[name];
  if (!mode) throw new Error(`--mode is one of ${Object.keys(MODES).join(', ')}`);
  const whole = (flag: string, value: string, min: number): number => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new Error(`--${flag} must be a whole number >= ${min}`);
    return Number(value);
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const defaultDb = 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_bench';
  return {
    mode: name,
    only: v.only.split(','),
    durationS: Number(v.duration),
    warmupS: Number(v.warmup),
    connections: Number(v.connections ?? mode.connections ?? 150),
    jobs: whole('jobs', v.jobs ?? v.tasks ?? v.streams ?? String(mode.jobs ?? 5000), 1),
    concurrency: v.concurrency,
    llmLatencyMs: whole('llm-latency-ms', v['llm-latency-ms'] ?? '1000', 0),
    nodeArgs: v['node-arg'] ?? [],
    databaseUrl: v['database-url'] ?? process.env.BENCH_DATABASE_URL ?? defaultDb,
    redisUrl: v['redis-url'] ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    portBase: v['port-base'] ? Number(v['port-base']) : undefined,
    env: Object.fromEntries(
      (v.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
    outDir: path.resolve(v.out ?? path.join(ROOT, 'bench', 'results', `${stamp}-${name}`)),
    gate: v.gate,
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const o = options(args);
  buildIfNeeded();
  const b = new Bench(o);
  process.on('SIGINT', () => void b.close().then(() => process.exit(130)));
  log(`preparing ${report.redactUrl(o.databaseUrl)}...`);
  await migrate({ ...process.env, DATABASE_URL: o.databaseUrl }, path.join(o.outDir, 'logs', 'migrate.log'));
  await resetData(o.databaseUrl);
  const machine = await report.machineInfo(o.databaseUrl, o.redisUrl);
  const comparisons = await MODES[o.mode].run(b).finally(() => b.close());
  const result: BenchResult = {
    schema: 'agent-platform/bench@1',
    startedAt: new Date().toISOString(),
    command: report.commandLine('bench', args),
    code: report.codeInfo(),
    machine,
    settings: {
      mode: o.mode,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...MODES[o.mode].settings(o),
      database: report.redactUrl(o.databaseUrl),
      ...o.env,
    },
    comparisons,
    figures: b.figures,
    samples: b.samples,
    notes: b.notes,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(path.join(o.outDir, 'bench.json'), JSON.stringify(result, null, 2));
  const md = renderBench(result);
  writeFileSync(path.join(o.outDir, 'bench.md'), md);
  process.stdout.write(`\n${md}\nwritten: ${path.join(o.outDir, 'bench.md')} and bench.json\n`);
  const missed = [...comparisons, ...b.figures].some((c) => c.ok === false);
  return o.gate && missed ? 1 : 0;
}

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(3);
    },
  );
