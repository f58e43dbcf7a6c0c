import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../lib/scenario';
import {
  ROOT,
  apiKeysEnv,
  buildIfNeeded,
  deleteRedisPrefix,
  llmSimEnv,
  migrate,
  mintApiKey,
  resetData,
  startStack,
  type Stack,
} from '../../tools/stack';
import { buildAB, roundOrder, writeAB } from './ab';
import { commandLine, redactUrl } from '../../tools/report';
import { headline } from './render';
import { executeRun, measureFloor, newRunId, type RunOptions, type RunOutput } from './run';
import { listScenarios, loadScenario } from './scenario';
import type { GeneratorFloor, Report } from './types';

/**
 * npm run load-test -- --scenario <name> [--target URL] ...           against a running stack
 * npm run load-test:local -- --scenario <name> [--baseline|--compare]  starts its own stack(s), runs, stops them
 * Exit code: 0 thresholds met, 1 a threshold breached, 2 bad usage, 3 the run could not be done, 130 interrupted.
 */
const USAGE = `usage:
  npm run load-test -- --scenario <name> [--target http://127.0.0.1:8080] [--out dir]
      [--api-key k1[,k2...]] [--database-url URL] [--redis-url URL] [--persona id]
      [--watch-pid name=pid]... [--var NAME=value]... [--progress seconds] [--no-floor]
  npm run load-test:local -- --scenario <name> [--out dir] [--baseline | --compare] [--rounds N]
      [--port-base N] [--database-url URL] [--redis-url URL] [--queue-prefix P] [--workers N]
      [--env KEY=VALUE]... [--llm-sim auto|off] [--background-nice N] [--llm KNOB=VALUE]... [--no-auth]
      [--keep-data] [--var NAME=value]... [--progress seconds] [--no-floor]
  npm run load-test -- --list

environment: LOAD_TEST_TARGET, LOAD_TEST_API_KEYS (comma-separated), LOAD_TEST_DATABASE_URL,
LOAD_TEST_REDIS_URL; --var values may also come from the environment.`;

/** The seed's untuned settings, the "before" side of --compare: pool 5, no limiter, no shedding. */
export const SEED_UNTUNED_ENV = { DB_POOL_MAX: '5', RATE_LIMIT_ENABLED: 'false', MAX_IN_FLIGHT: '0' };

class UsageError extends Error {}
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function keyValues(list: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} expects NAME=value, got "${item}"`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function printResult(r: Report, files?: RunOutput['files']): void {
  const o = r.overall;
  const t = r.tasks;
  process.stdout.write(
    [
      '',
      `${r.scenario.name}: ${r.run.aborted ? 'ABORTED' : r.passed ? 'PASSED' : 'FAILED'}`,
      ...headline(r.thresholds, r.generator).map((l) => `  ${l}`),
      `  requests ${o.requests}, success ${(o.successRate * 100).toFixed(2)}%, 429 ${o.rateLimited}, 503 ${o.shed}, errors ${o.errors}`,
      `  latency avg ${o.latencyMs.avg} ms, p50 ${o.latencyMs.p50}, p95 ${o.latencyMs.p95}, p99 ${o.latencyMs.p99}, max ${o.latencyMs.max} ms`,
      `  throughput ${o.rps} req/s${o.thinkBoundRps ? ` (${((o.efficiency ?? 0) * 100).toFixed(1)}% of the ${o.thinkBoundRps} req/s the think time allows)` : ''}, max users ${o.maxUsers}`,
      t.method === 'none'
        ? `  tasks: not checked (${t.note})`
        : `  tasks: accepted ${t.accepted}, succeeded ${t.succeeded}, failed ${t.failed}, lost ${t.lost}, duplicates ${t.duplicates} (via ${t.method})`,
      ...(files ? [`  report: ${files.md}`, `          ${files.html}`] : []),
      '',
    ].join('\n'),
  );
}

const exitCode = (r: { passed: boolean }, aborted: boolean): number => (aborted ? 130 : r.passed ? 0 : 1);

async function main(argv: string[]): Promise<number> {
  const [mode, ...args] = argv;
  if (mode !== 'run' && mode !== 'local') throw new UsageError('the first argument must be run or local');
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      scenario: { type: 'string', short: 's' },
      target: { type: 'string' },
      out: { type: 'string' },
      'api-key': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'queue-prefix': { type: 'string' },
      persona: { type: 'string' },
      'watch-pid': { type: 'string', multiple: true },
      var: { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      llm: { type: 'string', multiple: true },
      'llm-sim': { type: 'string' },
      'background-nice': { type: 'string', default: '10' },
      'port-base': { type: 'string' },
      workers: { type: 'string' },
      progress: { type: 'string', default: '5' },
      baseline: { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'no-floor': { type: 'boolean', default: false },
      'no-auth': { type: 'boolean', default: false },
      'keep-data': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (v.list) {
    for (const name of listScenarios())
      process.stdout.write(`${name.padEnd(20)} ${loadScenario(name, process.env).description}\n`);
    return 0;
  }
  if (!v.scenario) throw new UsageError('--scenario is required');
  const scenario = loadScenario(v.scenario, { ...process.env, ...keyValues(v.var, '--var') });
  const ab = v.baseline ? 'baseline' : v.compare ? 'compare' : undefined;
  if (v.baseline && v.compare)
    throw new UsageError('--baseline and --compare are two different runs: pick one');
  if (ab && mode === 'run') throw new UsageError(`--${ab} starts its own stacks: use load-test:local`);
  const pairs = Number(v.rounds ?? (ab === 'baseline' ? 3 : 1));
  if (!Number.isInteger(pairs) || pairs < 1 || (ab === 'baseline' && pairs < 3))
    throw new UsageError('--rounds is a whole number of rounds per side (at least 3 with --baseline)');
  const command = commandLine(mode === 'run' ? 'load-test' : 'load-test:local', args);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(v.out ?? path.join(ROOT, 'load-tests', 'results', `${scenario.name}-${stamp}`));
  const progressEveryMs = Math.max(0, Number(v.progress) * 1000);

  // Ctrl-C once: stop the load, write what was measured, stop the stack. Twice: exit now (children are killed).
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    if (++interrupts > 1) process.exit(130);
    log('interrupted: stopping the load (Ctrl-C again to exit at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Bounded in time whatever happens: each planned run (floor and rounds) + grace + drain + start-up allowance.
  const plannedMs = scenario.stages.reduce((a, s) => a + s.durationMs, 0);
  const runs = (ab ? 2 * pairs : 1) + (v['no-floor'] ? 0 : 1);
  const boundMs = runs * (plannedMs + scenario.gracefulStopMs + scenario.drainTimeoutMs + 180_000);
  setTimeout(() => {
    log(`watchdog: the run exceeded ${Math.round(boundMs / 1000)}s; stopping`);
    controller.abort();
    setTimeout(() => process.exit(124), 60_000).unref();
  }, boundMs).unref();

  const common = { scenario, command, signal: controller.signal, log, progressEveryMs };
  const floor: GeneratorFloor | null = v['no-floor'] ? null : await measureFloor(scenario, common);

  if (mode === 'run') {
    const target = v.target ?? process.env.LOAD_TEST_TARGET ?? 'http://127.0.0.1:8080';
    const keys = v['api-key'] ?? process.env.LOAD_TEST_API_KEYS ?? '';
    const apiKeys = keys
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const databaseUrl = v['database-url'] ?? process.env.LOAD_TEST_DATABASE_URL;
    const notes = [
      ...(databaseUrl ? [] : ['no --database-url: accepted tasks are followed through the API']),
      ...(apiKeys.length ? [] : ['no API key (--api-key / LOAD_TEST_API_KEYS): requests carry no X-API-Key']),
      ...(scenario.file.stack.events.length
        ? ["the scenario's stack events are played by load-test:local only"]
        : []),
    ];
    const watch = Object.entries(keyValues(v['watch-pid'], '--watch-pid')).map(([name, pid]) => ({
      name,
      pid: Number(pid),
    }));
    const { report, files } = await executeRun({
      ...common,
      target,
      apiKeys,
      persona: v.persona,
      databaseUrl,
      redisUrl: v['redis-url'] ?? process.env.LOAD_TEST_REDIS_URL,
      outDir,
      mode: 'run',
      notes,
      watch,
      floor,
      settings: databaseUrl ? { database: redactUrl(databaseUrl) } : {},
    });
    printResult(report, files);
    return exitCode(report, report.run.aborted);
  }

  if (v['llm-sim'] !== undefined && !['auto', 'off'].includes(v['llm-sim']))
    throw new UsageError('--llm-sim is auto or off');
  const nice = Number(v['background-nice']);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    throw new UsageError('--background-nice is a whole number from 0 to 19');
  buildIfNeeded();
  const databaseUrl =
    v['database-url'] ??
    process.env.LOAD_TEST_DATABASE_URL ??
    'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_load';
  const redisUrl = v['redis-url'] ?? process.env.LOAD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const spec = scenario.file.stack;
  const reset = (): Promise<void> => (v['keep-data'] ? Promise.resolve() : resetData(databaseUrl));
  const knobs = { ...llmSimEnv(spec.llmSim), ...llmSimEnv(keyValues(v.llm, '--llm')) };
  const useLlmSim = (v['llm-sim'] ?? (spec.provider === 'builtin' ? 'off' : 'auto')) === 'auto';
  const started: { stack: Stack; prefix: string }[] = [];

  /** One stack (platform or bare baseline) with keys of its own, and how to play the scenario against it. */
  const startSide = async (
    label: string,
    kind: 'platform' | 'baseline',
    extraEnv: Record<string, string>,
  ) => {
    const runId = newRunId();
    const prefix = v['queue-prefix'] ? `${v['queue-prefix']}-${started.length}` : `load-${runId}`;
    const keys = v['no-auth']
      ? []
      : Array.from({ length: scenario.file.auth.keys }, (_, i) =>
          mintApiKey(`load-${runId}-${i + 1}`, scenario.file.auth.tier, undefined, 'lt'),
        );
    log(`${label}: starting the stack (redis ${redactUrl(redisUrl)}, prefix ${prefix})`);
    const stack = await startStack({
      api: kind === 'platform' ? 'orchestrator' : 'baseline',
      worker: kind === 'platform' ? 'agent' : 'baseline',
      databaseUrl,
      redisUrl,
      queuePrefix: prefix,
      // extraEnv last: on --compare's seed side the seed's settings win over --env.
      env: { ...spec.env, ...keyValues(v.env, '--env'), ...extraEnv },
      orchestrators: spec.orchestrators,
      workers: v.workers ? Number(v.workers) : spec.workers,
      llmSim: useLlmSim ? knobs : null,
      apiKeysEnv: keys.length ? apiKeysEnv(keys) : undefined,
      backgroundNice: nice,
      portBase: v['port-base'] ? Number(v['port-base']) + 100 * started.length : undefined,
      logDir: path.join(outDir, 'logs', label.split(' ')[0]),
      log,
    });
    started.push({ stack, prefix });
    const run = (dir: string, extra: Partial<RunOptions> = {}): Promise<RunOutput> =>
      executeRun({
        ...common,
        target: stack.target,
        apiKeys: keys.map((k) => k.key),
        databaseUrl,
        redisUrl,
        outDir: dir,
        mode: 'local',
        settings: stack.settings,
        notes: [...stack.notes, ...(keys.length ? [] : ['--no-auth: requests carry no X-API-Key'])],
        watch: stack.processes(),
        floor,
        checkApi: kind === 'platform',
        events: spec.events.map((e) => ({
          atMs: parseDuration(e.at),
          run: () =>
            e.action === 'rolling-restart' ? stack.rollingRestart() : stack.setLlmSim(e.knobs ?? {}),
        })),
        stackMetrics: spec.metrics.length ? () => stack.scrape(spec.metrics) : undefined,
        ...extra,
      });
    return run;
  };

  log(`migrating and emptying ${redactUrl(databaseUrl)}...`);
  await migrate({ ...process.env, DATABASE_URL: databaseUrl }, path.join(outDir, 'logs', 'migrate.log'));
  await reset();
  try {
    if (!ab) {
      const run = await startSide('load-test:local', 'platform', {});
      const { report, files } = await run(outDir);
      printResult(report, files);
      return exitCode(report, report.run.aborted);
    }
    const labels =
      ab === 'baseline' ? { a: 'platform', b: 'bare baseline' } : { a: 'tuned', b: 'seed untuned' };
    const sides = {
      a: await startSide(labels.a, 'platform', {}),
      b: await startSide(
        labels.b,
        ab === 'baseline' ? 'baseline' : 'platform',
        ab === 'compare' ? SEED_UNTUNED_ENV : {},
      ),
    };
    const rounds: { side: 'a' | 'b'; dir: string; report: Report }[] = [];
    for (const side of roundOrder(pairs)) {
      if (controller.signal.aborted) break;
      const dir = `rounds/${rounds.length + 1}-${side}`;
      log(`round ${rounds.length + 1} of ${2 * pairs}: ${labels[side]}`);
      await reset();
      const { report } = await sides[side](path.join(outDir, dir));
      rounds.push({ side, dir, report });
    }
    if (controller.signal.aborted) return 130;
    const notes: string[] = [];
    if (ab === 'baseline') {
      notes.push(
        'both sides pay for their consumers: the agent worker on the platform side, a bare Bull drain worker (bench/baseline) on the baseline side',
      );
      const unserved = scenario.requests.filter(
        (r) => !['POST /v1/tasks', 'GET /health/live'].includes(`${r.method} ${r.path}`),
      );
      if (unserved.length)
        notes.push(
          `the bare baseline serves only POST /v1/tasks and GET /health/live: ${unserved.map((r) => r.name).join(', ')} fail there, so compare single-request scenarios (verify-production, peak-150)`,
        );
    }
    const result = buildAB(ab, labels, rounds, scenario.thresholds, notes);
    const file = writeAB(result, outDir);
    process.stdout.write(
      `\n${scenario.name} (${labels.a} / ${labels.b}): ${result.passed ? 'PASSED' : 'FAILED'}\n${result.rows.map((r) => `  ${r.metric.padEnd(22)} ${r.median.toFixed(2)}x (${r.min.toFixed(2)} - ${r.max.toFixed(2)})`).join('\n')}\n  report: ${file}\n`,
    );
    return exitCode(result, false);
  } finally {
    log('stopping the stack(s)...');
    for (const { stack, prefix } of started.splice(0)) {
      await stack.stop();
      if (!v['keep-data'])
        await deleteRedisPrefix(redisUrl, prefix).catch((err: Error) =>
          log(`could not delete Redis keys ${prefix}:*: ${err.message}`),
        );
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      log(`${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(3);
  },
);
