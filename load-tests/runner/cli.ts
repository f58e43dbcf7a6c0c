import path from 'node:path';
import { parseArgs } from 'node:util';
import { compareReports, writeComparison } from './compare';
import { commandLine, redactUrl } from './machine';
import { executeRun, newRunId, type RunOutput } from './run';
import { listScenarios, loadScenario } from './scenario';
import {
  SEED_UNTUNED_ENV,
  buildIfNeeded,
  choosePorts,
  deleteRedisPrefix,
  generateApiKeys,
  llmSimEnv,
  resetData,
  startStack,
  ROOT,
} from './stack';

/**
 * npm run load-test -- --scenario <name> [--target URL] ...        against a running stack
 * npm run load-test:local -- --scenario <name> [--compare] ...     starts its own stack, runs, stops it
 * Exit code: 0 thresholds met, 1 a threshold breached, 2 bad usage, 3 the run could not be done, 130 interrupted.
 */
const USAGE = `usage:
  npm run load-test -- --scenario <name> [--target http://127.0.0.1:8080] [--out dir]
      [--api-key k1[,k2...]] [--database-url URL] [--redis-url URL] [--persona id]
      [--watch-pid name=pid]... [--var NAME=value]... [--progress seconds]
  npm run load-test:local -- --scenario <name> [--out dir] [--compare]
      [--port-base N] [--database-url URL] [--redis-url URL] [--queue-prefix P]
      [--env KEY=VALUE]... [--llm-sim auto|off] [--background-nice N] [--llm KNOB=VALUE]... [--no-auth] [--keep-data]
      [--var NAME=value]... [--progress seconds]
  npm run load-test -- --list

environment: LOAD_TEST_TARGET, LOAD_TEST_API_KEYS (comma-separated), LOAD_TEST_DATABASE_URL,
LOAD_TEST_REDIS_URL, LOAD_TEST_QUEUE_PREFIX; --var values may also come from the environment.`;

const DEFAULT_LOCAL_DB = 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_load';
const DEFAULT_LOCAL_REDIS = 'redis://127.0.0.1:6379/0';

class UsageError extends Error {}

function keyValues(list: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} expects NAME=value, got "${item}"`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function printResult(out: RunOutput): void {
  const r = out.report;
  const o = r.overall;
  const failed = r.thresholds.filter((t) => t.ok === false);
  process.stdout.write(
    [
      '',
      `${r.scenario.name}: ${r.run.aborted ? 'ABORTED' : r.passed ? 'PASSED' : 'FAILED'}`,
      `  requests ${o.requests}, success ${(o.successRate * 100).toFixed(2)}%, 429 ${o.rateLimited}, 503 ${o.shed}, errors ${o.errors}`,
      `  latency avg ${o.latencyMs.avg} ms, p50 ${o.latencyMs.p50}, p90 ${o.latencyMs.p90}, p95 ${o.latencyMs.p95}, p99 ${o.latencyMs.p99}, max ${o.latencyMs.max} ms`,
      `  throughput ${o.rps} req/s${o.thinkBoundRps ? ` (${((o.efficiency ?? 0) * 100).toFixed(1)}% of the ${o.thinkBoundRps} req/s think time allows)` : ''}, max users ${o.maxUsers}`,
      r.tasks.method === 'none'
        ? `  tasks: not checked (${r.tasks.note})`
        : `  tasks: accepted ${r.tasks.accepted}, succeeded ${r.tasks.succeeded}, failed ${r.tasks.failed}, lost ${r.tasks.lost}, duplicates ${r.tasks.duplicates}, completion p50 ${r.tasks.completionMs.p50} ms p95 ${r.tasks.completionMs.p95} ms (via ${r.tasks.method})`,
      ...r.processes.map((p) => `  ${p.name}: peak RSS ${p.peakRssMb} MB, avg CPU ${p.avgCpuPct}%`),
      ...failed.map((t) => `  THRESHOLD BREACHED: ${t.label} (actual ${t.actual})`),
      `  report: ${out.files.md}`,
      `          ${out.files.html}`,
      '',
    ].join('\n'),
  );
}

async function main(argv: string[]): Promise<number> {
  const [mode, ...args] = argv;
  if (mode !== 'run' && mode !== 'local') throw new UsageError('the first argument must be run or local');
  const { values } = parseArgs({
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
      progress: { type: 'string', default: '5' },
      compare: { type: 'boolean', default: false },
      'no-auth': { type: 'boolean', default: false },
      'keep-data': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    for (const name of listScenarios()) {
      const s = loadScenario(name, process.env);
      process.stdout.write(`${name.padEnd(20)} ${s.description}\n`);
    }
    return 0;
  }
  if (!values.scenario) throw new UsageError('--scenario is required');
  const vars = { ...process.env, ...keyValues(values.var, '--var') };
  const scenario = loadScenario(values.scenario, vars);
  const command = commandLine(mode === 'run' ? 'load-test' : 'load-test:local', args);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(
    values.out ?? path.join(ROOT, 'load-tests', 'results', `${scenario.name}-${stamp}`),
  );
  const progressEveryMs = Math.max(0, Number(values.progress) * 1000);

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
  // Bounded in time whatever happens: the planned load + grace + drain + startup allowance.
  const plannedMs = scenario.stages.reduce((a, s) => a + s.durationMs, 0);
  const boundMs =
    (values.compare ? 2 : 1) * (plannedMs + scenario.gracefulStopMs + scenario.drainTimeoutMs + 180_000);
  setTimeout(() => {
    log(`watchdog: the run exceeded ${Math.round(boundMs / 1000)}s; stopping`);
    controller.abort();
    setTimeout(() => process.exit(124), 60_000).unref();
  }, boundMs).unref();

  if (mode === 'run') {
    if (values.compare) throw new UsageError('--compare starts its own stacks: use load-test:local');
    const target = values.target ?? process.env.LOAD_TEST_TARGET ?? 'http://127.0.0.1:8080';
    const apiKeys = (
      values['api-key'] ??
      process.env.LOAD_TEST_API_KEYS ??
      process.env.LOAD_TEST_API_KEY ??
      ''
    )
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const databaseUrl = values['database-url'] ?? process.env.LOAD_TEST_DATABASE_URL;
    const notes: string[] = [];
    if (!databaseUrl) notes.push('no --database-url: accepted tasks are followed through the API');
    if (!apiKeys.length)
      notes.push('no API key (--api-key / LOAD_TEST_API_KEYS): requests carry no X-API-Key');
    const watch = Object.entries(keyValues(values['watch-pid'], '--watch-pid')).map(([name, pid]) => ({
      name,
      pid: Number(pid),
    }));
    const out = await executeRun({
      scenario,
      target,
      apiKeys,
      persona: values.persona,
      databaseUrl,
      redisUrl: values['redis-url'] ?? process.env.LOAD_TEST_REDIS_URL,
      outDir,
      mode: 'run',
      command,
      notes,
      watch,
      signal: controller.signal,
      log,
      progressEveryMs,
      settings: databaseUrl ? { database: redactUrl(databaseUrl) } : {},
    });
    printResult(out);
    return out.report.run.aborted ? 130 : out.report.passed ? 0 : 1;
  }

  // local
  if (values['llm-sim'] !== undefined && values['llm-sim'] !== 'auto' && values['llm-sim'] !== 'off')
    throw new UsageError('--llm-sim is auto or off');
  const backgroundNiceValue = Number(values['background-nice']);
  if (!Number.isInteger(backgroundNiceValue) || backgroundNiceValue < 0 || backgroundNiceValue > 19)
    throw new UsageError('--background-nice is a whole number from 0 to 19');
  buildIfNeeded(log);
  const databaseUrl = values['database-url'] ?? process.env.LOAD_TEST_DATABASE_URL ?? DEFAULT_LOCAL_DB;
  const redisUrl = values['redis-url'] ?? process.env.LOAD_TEST_REDIS_URL ?? DEFAULT_LOCAL_REDIS;
  const portBase = values['port-base'] ? Number(values['port-base']) : undefined;
  const cliEnv = keyValues(values.env, '--env');
  const knobs = { ...llmSimEnv(scenario.file.stack.llmSim), ...llmSimEnv(keyValues(values.llm, '--llm')) };

  const runLocal = async (
    label: string,
    extraEnv: Record<string, string>,
    dir: string,
  ): Promise<RunOutput> => {
    const runId = newRunId();
    const queuePrefix = values['queue-prefix'] ?? process.env.LOAD_TEST_QUEUE_PREFIX ?? `load-${runId}`;
    const auth = values['no-auth']
      ? undefined
      : generateApiKeys(scenario.file.auth.keys, scenario.file.auth.tier, runId);
    log(
      `${label}: starting the stack (database ${redactUrl(databaseUrl)}, redis ${redactUrl(redisUrl)}, prefix ${queuePrefix})`,
    );
    const stack = await startStack({
      databaseUrl,
      redisUrl,
      queuePrefix,
      ports: await choosePorts(portBase),
      // extraEnv last: in --compare's "before" run the seed's untuned settings win over --env.
      env: { ...scenario.file.stack.env, ...cliEnv, ...extraEnv },
      llmSimEnv: knobs,
      llmSim: (values['llm-sim'] ?? (scenario.file.stack.provider === 'builtin' ? 'off' : 'auto')) as
        'auto' | 'off',
      backgroundNice: backgroundNiceValue,
      logDir: path.join(dir, 'logs'),
      log,
      apiKeysEnv: auth?.apiKeysEnv,
      afterMigrate: values['keep-data'] ? undefined : () => resetData(databaseUrl),
    });
    try {
      return await executeRun({
        scenario,
        target: stack.target,
        apiKeys: auth?.keys.map((k) => k.key) ?? [],
        databaseUrl,
        redisUrl,
        outDir: dir,
        mode: 'local',
        command,
        settings: stack.settings,
        notes: [...stack.notes, ...(auth ? [] : ['--no-auth: requests carry no X-API-Key'])],
        watch: stack.processes,
        runId,
        signal: controller.signal,
        log,
        progressEveryMs,
      });
    } finally {
      log(`${label}: stopping the stack...`);
      await stack.stop();
      if (!values['keep-data'])
        await deleteRedisPrefix(redisUrl, queuePrefix).catch((err: unknown) =>
          log(`could not clean Redis keys ${queuePrefix}:*: ${(err as Error).message}`),
        );
    }
  };

  if (!values.compare) {
    const out = await runLocal('load-test:local', {}, outDir);
    printResult(out);
    return out.report.run.aborted ? 130 : out.report.passed ? 0 : 1;
  }
  const before = await runLocal(
    'before (seed untuned settings)',
    { ...SEED_UNTUNED_ENV },
    path.join(outDir, 'before'),
  );
  printResult(before);
  if (controller.signal.aborted) return 130;
  const after = await runLocal('after (tuned settings)', {}, path.join(outDir, 'after'));
  printResult(after);
  const comparison = compareReports(before.report, after.report, {
    before: 'before/report.md',
    after: 'after/report.md',
  });
  const files = writeComparison(comparison, after.report, outDir);
  process.stdout.write(
    `${comparison.rows.map((r) => `  ${r.metric.padEnd(24)} ${r.before.padStart(14)} -> ${r.after.padStart(14)}  ${r.change}`).join('\n')}\n  comparison: ${files.md}\n`,
  );
  return after.report.run.aborted ? 130 : after.report.passed ? 0 : 1;
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
