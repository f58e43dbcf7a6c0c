#!/usr/bin/env node
// `npm run chaos:llm -- --tasks 1000 --error-rate 0.2 --latency-ms 200`
//
// The worker's "done means" run: a whole stack (llm-sim with faults, orchestrator, agent
// worker(s)) on 127.0.0.1 only, N tasks through the real API, then checks that every task
// succeeded with exactly one post, and reports time, retries and breaker opens. Bounded by
// --timeout-s; every process it starts is stopped at the end, and the run's Redis keys (a
// queue prefix of its own) are deleted.
//
// Uses DATABASE_URL / REDIS_URL from the environment (defaults: database agent_platform_chaos,
// Redis db 0), ORCHESTRATOR_PORT / WORKER_HEALTH_PORT / LLM_SIM_PORT when set (free ports
// otherwise). Build first if sources changed (done here).
const { spawn, spawnSync } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');
const node = process.execPath;

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    'error-rate': { type: 'string', default: '0.2' },
    'latency-ms': { type: 'string', default: '200' },
    'jitter-ms': { type: 'string', default: '0' },
    'timeout-rate': { type: 'string', default: '0' },
    'rate-limit-rate': { type: 'string', default: '0' },
    'outage-at-s': { type: 'string', default: '0' },
    'outage-s': { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '600' },
    'keep-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'usage: npm run chaos:llm -- [--tasks 1000] [--error-rate 0.2] [--latency-ms 200] [--jitter-ms 0]\n' +
      '         [--timeout-rate 0] [--rate-limit-rate 0] [--outage-at-s 0 --outage-s 0]\n' +
      '         [--workers 1] [--concurrency 16] [--timeout-s 600]',
  );
  process.exit(0);
}
const opts = {
  tasks: Number(args.tasks),
  errorRate: Number(args['error-rate']),
  latencyMs: Number(args['latency-ms']),
  jitterMs: Number(args['jitter-ms']),
  timeoutRate: Number(args['timeout-rate']),
  rateLimitRate: Number(args['rate-limit-rate']),
  /** A full llm-sim outage of outageS seconds, starting outageAtS seconds after the first task is created. */
  outageAtS: Number(args['outage-at-s']),
  outageS: Number(args['outage-s']),
  workers: Number(args.workers),
  concurrency: Number(args.concurrency),
  timeoutS: Number(args['timeout-s']),
};
for (const [k, v] of Object.entries(opts)) {
  if (!Number.isFinite(v) || v < 0) {
    console.error(`--${k}: not a number >= 0`);
    process.exit(2);
  }
}

const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const prefix = `chaos-${runId}`;
const logDir = path.join(os.tmpdir(), `chaos-llm-${runId}`);
fs.mkdirSync(logDir, { recursive: true });
const deadline = Date.now() + opts.timeoutS * 1000;
const children = [];
const log = (msg) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(name, main, env) {
  const out = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(node, [main], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  child.name = name;
  child.on('exit', (code, signal) => {
    child.exited = true;
    if (!stopping)
      log(`${name} exited unexpectedly (${signal ?? `code ${code}`}); see ${logDir}/${name}.log`);
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stopAll() {
  stopping = true;
  for (const c of children) if (!c.exited) c.kill('SIGTERM');
  const until = Date.now() + 20000;
  while (children.some((c) => !c.exited) && Date.now() < until) await sleep(100);
  for (const c of children) if (!c.exited) c.kill('SIGKILL');
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

async function waitFor(url, what, status = 200) {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === status) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`${what} did not come up (${url})`);
}

async function scrape(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return (name, labels = {}) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function main() {
  if (spawnSync(node, ['scripts/build.js', '--if-needed'], { cwd: root, stdio: 'inherit' }).status !== 0) {
    throw new Error('build failed');
  }
  const { Client } = require('pg');

  const databaseUrl =
    process.env.DATABASE_URL || 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform_chaos';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const ports = {
    api: Number(process.env.ORCHESTRATOR_PORT) || (await freePort()),
    sim: Number(process.env.LLM_SIM_PORT) || (await freePort()),
  };
  const workerPorts = [];
  for (let i = 0; i < opts.workers; i++) {
    workerPorts.push(
      i === 0 && Number(process.env.WORKER_HEALTH_PORT)
        ? Number(process.env.WORKER_HEALTH_PORT)
        : await freePort(),
    );
  }
  const apiKey = randomBytes(24).toString('hex');
  const common = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: '0',
  };

  if (
    spawnSync(node, ['dist/libs/db/src/migrate.js'], {
      cwd: root,
      env: { ...process.env, ...common },
      stdio: 'inherit',
    }).status !== 0
  ) {
    throw new Error('migration failed');
  }
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const persona = `chaos-${runId}`;
  await db.query(
    `INSERT INTO personas (id, name, system_prompt, model, temperature, max_tokens) VALUES ($1, $2, $3, 'sim-model', 0.7, 400)`,
    [persona, `Chaos ${runId}`, 'You are a candid engineer. Short, concrete posts.'],
  );

  log(`run ${runId}: logs in ${logDir}`);
  start('llm-sim', 'dist/apps/llm-sim/src/main.js', {
    ...common,
    LLM_SIM_PORT: String(ports.sim),
    LLM_SIM_LATENCY_MS: String(opts.latencyMs),
    LLM_SIM_JITTER_MS: String(opts.jitterMs),
    LLM_SIM_ERROR_RATE: String(opts.errorRate),
    LLM_SIM_TIMEOUT_RATE: String(opts.timeoutRate),
    LLM_SIM_RATE_LIMIT_RATE: String(opts.rateLimitRate),
  });
  start('orchestrator', 'dist/apps/orchestrator/src/main.js', {
    ...common,
    ORCHESTRATOR_PORT: String(ports.api),
    // Forward-compatible with API keys and rate limits: this run uses a key of its own with the
    // loadtest tier, and measures the worker, not the API's protections.
    API_KEYS: JSON.stringify([
      {
        name: 'chaos',
        tier: 'loadtest',
        scopes: ['tasks:read', 'tasks:write'],
        sha256: createHash('sha256').update(apiKey).digest('hex'),
      },
    ]),
    RATE_LIMIT_ENABLED: 'false',
    MAX_IN_FLIGHT: '0',
  });
  workerPorts.forEach((port, i) =>
    start(`agent-worker-${i}`, 'dist/apps/agent-worker/src/main.js', {
      ...common,
      WORKER_HEALTH_PORT: String(port),
      WORKER_CONCURRENCY: String(opts.concurrency),
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: `http://127.0.0.1:${ports.sim}/v1`,
    }),
  );
  const api = `http://127.0.0.1:${ports.api}`;
  const sim = `http://127.0.0.1:${ports.sim}`;
  const workers = workerPorts.map((p) => `http://127.0.0.1:${p}`);
  await waitFor(`${sim}/health/live`, 'llm-sim');
  await waitFor(`${api}/health/ready`, 'orchestrator');
  for (const w of workers) await waitFor(`${w}/health/ready`, 'agent worker');
  log(
    `stack up: llm-sim error rate ${opts.errorRate}, latency ${opts.latencyMs} ms; ${opts.workers} worker(s) x ${opts.concurrency}`,
  );

  // Create the tasks through the API, 16 at a time.
  const started = Date.now();
  const setOutage = (outage) =>
    fetch(`${sim}/admin/knobs`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outage }),
    }).then(() => log(`llm-sim outage ${outage ? 'ON' : 'OFF'}`));
  if (opts.outageS > 0) {
    setTimeout(() => void setOutage(true), opts.outageAtS * 1000).unref();
    setTimeout(() => void setOutage(false), (opts.outageAtS + opts.outageS) * 1000).unref();
  }
  let next = 0;
  let created = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < opts.tasks) {
        const i = next++;
        const res = await fetch(`${api}/v1/tasks`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': apiKey,
            'x-request-id': `chaos-${runId}-${i}`,
          },
          body: JSON.stringify({
            persona_id: persona,
            task_type: i % 2 ? 'generate_thread' : 'generate_post',
            topic: `chaos topic ${i}`,
            pain_statement: `pain number ${i}`,
          }),
        });
        if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${await res.text()}`);
        created++;
      }
    }),
  );
  log(`${created} tasks created in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let counts = {};
  for (;;) {
    const { rows } = await db.query(
      'SELECT status, count(*)::int AS n FROM tasks WHERE persona_id = $1 GROUP BY status',
      [persona],
    );
    counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const terminal = (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0);
    if (terminal >= opts.tasks) break;
    if (Date.now() > deadline) {
      log(`deadline reached: ${JSON.stringify(counts)}`);
      break;
    }
    if (children.some((c) => c.exited)) throw new Error('a process of the stack died');
    await sleep(1000);
  }

  const { rows: timing } = await db.query(
    `SELECT min(created_at) AS first_created, max(finished_at) AS last_finished,
            percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) AS pct,
            max(extract(epoch FROM finished_at - created_at)) AS max_s,
            sum(attempts)::int AS attempts, count(*) FILTER (WHERE attempts > 1)::int AS retried_tasks
     FROM tasks WHERE persona_id = $1`,
    [persona],
  );
  const { rows: posts } = await db.query(
    `SELECT count(*)::int AS posts, count(DISTINCT p.task_id)::int AS tasks_with_post
     FROM posts p JOIN tasks t ON t.id = p.task_id WHERE t.persona_id = $1`,
    [persona],
  );
  const metric = await Promise.all(workers.map(scrape));
  const sum = (name, labels) => metric.reduce((s, m) => s + m(name, labels), 0);
  const simStats = await (await fetch(`${sim}/admin/stats`)).json();
  const t = timing[0];
  const wallS = (new Date(t.last_finished) - new Date(t.first_created)) / 1000;

  const report = {
    command: `npm run chaos:llm -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`,
    settings: opts,
    tasks: { requested: opts.tasks, byStatus: counts, ...posts[0] },
    // Per task: created_at -> finished_at.
    timeS: {
      wall: round(wallS, 1),
      p50: round(t.pct?.[0]),
      p95: round(t.pct?.[1]),
      p99: round(t.pct?.[2]),
      max: round(Number(t.max_s)),
    },
    throughputPerS: Number((opts.tasks / wallS).toFixed(1)),
    attempts: { total: t.attempts, tasksWithMoreThanOne: t.retried_tasks },
    retries: {
      taskRetries: sum('agent_task_retries_total'),
      quickLlmRetries: sum('llm_call_retries_total'),
      breakerDeferrals: sum('agent_task_breaker_deferrals_total'),
    },
    breaker: {
      opens: sum('circuit_breaker_events_total', { event: 'open' }),
      rejects: sum('circuit_breaker_events_total', { event: 'reject' }),
      failures: sum('circuit_breaker_events_total', { event: 'failure' }),
      timeouts: sum('circuit_breaker_events_total', { event: 'timeout' }),
    },
    llmSim: { requests: simStats.requests, byOutcome: simStats.byOutcome, aborted: simStats.aborted },
  };
  report.ok =
    counts.succeeded === opts.tasks &&
    posts[0].posts === opts.tasks &&
    posts[0].tasks_with_post === opts.tasks;

  const resultsDir = path.join(root, 'load-tests', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const reportFile = path.join(resultsDir, `chaos-llm-${runId}.json`);
  fs.writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  log(`${report.ok ? 'OK' : 'FAILED'}: report in ${path.relative(root, reportFile)}`);

  await db.end();
  return { ok: report.ok, redisUrl };
}

async function cleanupRedis(redisUrl) {
  const Redis = require('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

let outcome = { ok: false, redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379' };
main()
  .then((result) => (outcome = result))
  .catch((err) => log(`error: ${err.stack ?? err}`))
  .finally(async () => {
    await stopAll();
    await cleanupRedis(outcome.redisUrl).catch((err) => log(`could not delete the run's Redis keys: ${err}`));
    if (!args['keep-logs'] && outcome.ok) fs.rmSync(logDir, { recursive: true, force: true });
    process.exit(outcome.ok ? 0 : 1);
  });
