import {
  compare,
  httpSettings,
  log,
  type BenchComparison,
  type BenchMode,
  type Measurement,
} from '../measure';

/**
 * --mode baselines (default; --only picks some): each real service against a bare baseline doing the same work.
 *   ingest: POST /v1/tasks on the orchestrator vs plain Fastify + pg + bull (INSERT + Bull add), autocannon
 *   drain:  the agent worker (builtin provider) vs a bare Bull processor doing the same writes, jobs/s
 *   health: GET /health/live on the orchestrator vs the null target (node:http and a constant)
 */
const baselines: BenchMode = {
  connections: 150,
  jobs: 5000,
  settings: (o) => ({ ...httpSettings(o), jobs: o.jobs, WORKER_CONCURRENCY: o.concurrency }),
  async run(b) {
    const { only, connections, jobs, concurrency, durationS } = b.o;
    const out: Record<string, BenchComparison> = {};
    let ingest: Measurement | undefined;
    let health: Measurement | undefined;
    if (only.includes('ingest')) {
      log('(a) ingest baseline: Fastify + pg + bull');
      const { target } = await b.start('baseline-server', { api: 'baseline' });
      const tasks = 'SELECT count(*)::int AS n FROM tasks';
      const before = await b.count(tasks);
      ingest = await b.http('bare Fastify + pg + bull: POST /v1/tasks', `${target}/v1/tasks`, {});
      const written = (await b.count(tasks)) - before;
      // A baseline that answered without writing would make every ratio meaningless.
      if (written < ingest.rate * durationS * 0.9)
        throw new Error(`the baseline answered ${ingest.rate * durationS} tasks but wrote ${written}`);
      await b.stopAll();
    }
    if (only.includes('health')) {
      log('(c) health baseline: the null target (node:http)');
      const { target } = await b.start('null-target', { api: 'null' });
      health = await b.http('null target (node:http): GET /health/live', `${target}/health/live`);
      await b.stopAll();
    }
    if (ingest || health) {
      log('(a)/(c) the orchestrator');
      // It measures capacity, not shedding; no worker drains, so the reconciler stays off.
      const env = { RECONCILER_ENABLED: 'false', MAX_IN_FLIGHT: String(connections * 2) };
      const { target } = await b.start('orchestrator', { api: 'orchestrator', env });
      // Health first, so its figure does not depend on what the ingest run leaves behind (rows, garbage).
      if (health) {
        const real = await b.http('orchestrator: GET /health/live', `${target}/health/live`);
        out.health = compare('health', `(c) GET /health/live, ${connections} connections`, health, real, 0.5);
      }
      if (ingest) {
        const key = { 'x-api-key': b.key.key };
        const real = await b.http('orchestrator: POST /v1/tasks', `${target}/v1/tasks`, key);
        out.ingest = compare('ingest', `(a) POST /v1/tasks, ${connections} connections`, ingest, real, 0.8);
      }
      await b.stopAll();
    }
    if (only.includes('drain')) {
      log(`(b) drain ${jobs} jobs, concurrency ${concurrency}`);
      const base = await b.drain('bare Bull processor', 'baseline-worker', { worker: 'baseline' });
      const real = await b.drain('agent worker (builtin provider)', 'agent-worker', {});
      const title = `(b) worker drain, ${jobs} jobs, concurrency ${concurrency}`;
      out.drain = compare('drain', title, base, real, 0.6);
    }
    return [out.ingest, out.drain, out.health].filter((c) => c !== undefined);
  },
};
export default baselines;
