// `npm run bench:protection`: what the orchestrator's protection layer costs on POST /v1/tasks.
// Runs the built orchestrator (dist/) three times against the dev database, each with autocannon
// for BENCH_DURATION_S (10) seconds at BENCH_CONNECTIONS (50) connections:
//   bare       - no API keys, no rate limiter, no request log, no shedding
//   protected  - API key (tier loadtest), Redis rate limiter, shedding at MAX_IN_FLIGHT=100, no request log
//   logged     - protected + one JSON log line per request (LOG_REQUESTS=true, stdout to /dev/null)
// and counts the Redis EVALs the limiter adds per request (INFO commandstats around 500
// sequential requests; the Redis server is shared, so that count is rough too).
// Short runs on a shared 2-core machine: read the figures as rough, compare them only with
// each other. Env: DATABASE_URL, REDIS_URL, QUEUE_PREFIX, BENCH_PORT (default 28080).
const { spawn, execFileSync } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const autocannon = require('autocannon');
const Redis = require('ioredis');

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist/apps/orchestrator/src/main.js');
const DURATION = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PORT = Number(process.env.BENCH_PORT ?? 28080);
const BASE_ENV = {
  PATH: process.env.PATH,
  NODE_ENV: 'development',
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'agent-platform',
  ORCHESTRATOR_PORT: String(PORT),
  HTTP_HOST: '127.0.0.1',
  RECONCILER_ENABLED: 'false',
  LOG_LEVEL: 'info',
};
const SECRET = `bench_${randomBytes(16).toString('hex')}`;
const KEYS = JSON.stringify([
  {
    name: 'bench',
    tier: 'loadtest',
    scopes: ['tasks:write', 'tasks:read'],
    sha256: createHash('sha256').update(SECRET).digest('hex'),
  },
]);

const VARIANTS = [
  {
    name: 'bare',
    env: { RATE_LIMIT_ENABLED: 'false', LOG_REQUESTS: 'false', MAX_IN_FLIGHT: '0' },
    key: false,
  },
  {
    name: 'protected',
    env: { API_KEYS: KEYS, RATE_LIMIT_ENABLED: 'true', LOG_REQUESTS: 'false' },
    key: true,
  },
  { name: 'logged', env: { API_KEYS: KEYS, RATE_LIMIT_ENABLED: 'true', LOG_REQUESTS: 'true' }, key: true },
];

const BODY = JSON.stringify({ persona_id: 'founder-voice', task_type: 'generate_post', topic: 'bench' });
const url = `http://127.0.0.1:${PORT}`;

async function waitReady() {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('orchestrator did not become ready');
}

function start(env) {
  return spawn(process.execPath, [MAIN], {
    env: { ...BASE_ENV, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
}

function load(headers, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}/v1/tasks`, method: 'POST', body: BODY, headers, connections: CONNECTIONS, duration },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function evalsPerRequest(headers) {
  const redis = new Redis(BASE_ENV.REDIS_URL);
  const evals = async () => {
    const info = await redis.info('commandstats');
    const line = info.split('\n').find((l) => l.startsWith('cmdstat_eval:'));
    return line ? Number(/calls=(\d+)/.exec(line)[1]) : 0;
  };
  const n = 500;
  const before = await evals();
  for (let i = 0; i < n; i++) await fetch(`${url}/v1/tasks?limit=1`, { headers });
  const after = await evals();
  redis.disconnect();
  return (after - before) / n;
}

async function main() {
  if (!existsSync(MAIN)) throw new Error('run `npm run build` first');
  execFileSync(process.execPath, [join(ROOT, 'dist/libs/db/src/migrate.js')], {
    env: BASE_ENV,
    stdio: 'inherit',
  });
  const rows = [];
  for (const variant of VARIANTS) {
    const child = start(variant.env);
    try {
      await waitReady();
      const headers = { 'content-type': 'application/json', ...(variant.key ? { 'x-api-key': SECRET } : {}) };
      await load(headers, 2); // warm-up
      const r = await load(headers, DURATION);
      const row = {
        variant: variant.name,
        req_per_s: Math.round(r.requests.average),
        p50_ms: r.latency.p50,
        p99_ms: r.latency.p99,
        non_2xx: r.non2xx,
        errors: r.errors,
      };
      if (variant.name === 'protected') row.redis_evals_per_request = await evalsPerRequest(headers);
      rows.push(row);
      console.log(JSON.stringify(row));
    } finally {
      await stop(child);
    }
  }
  const report = {
    when: new Date().toISOString(),
    machine: `${require('node:os').cpus().length} cores, ${require('node:os').cpus()[0].model}, node ${process.version}`,
    duration_s: DURATION,
    connections: CONNECTIONS,
    rows,
  };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', `protection-${Date.now()}.json`), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
