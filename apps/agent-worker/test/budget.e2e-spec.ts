import type { Pool } from 'pg';
import { startOrchestrator } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually } from '../../../test/support/http';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';
import { createTasks, progress } from '../../../test/support/tasks';
import { ensureBuilt, spawnWorker, type WorkerProcess } from './support/worker-process';

/**
 * The provider budget shared by every worker through Redis, against llm-sim enforcing a real
 * requests-a-minute limit the way hosted providers do (one second of it at once). Two worker
 * processes, each on the openai defaults (a thousand calls in flight), share one budget.
 */
describe('provider budget shared by all workers', () => {
  let sim: RunningSim;
  let pool: Pool;
  let persona: string;
  const children: WorkerProcess[] = [];

  const spawn = async (env: Record<string, string>) => {
    const child = await spawnWorker({ LLM_PROVIDER: 'openai', LLM_BASE_URL: sim.baseUrl, ...env });
    children.push(child);
    await child.ready();
    return child;
  };
  const stopAll = async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGTERM');
      await c.exited;
    }
  };
  const simCount = async (status: string) =>
    metricValue(await fetch(`${sim.url}/metrics`).then((r) => r.text()), 'llm_sim_requests_total', {
      status,
    });
  const waitForAll = (ids: string[], timeoutMs: number) =>
    eventually(
      async () => {
        const p = await progress(pool, ids);
        return p.byStatus.succeeded === ids.length ? p : undefined;
      },
      timeoutMs,
      200,
    );

  beforeAll(async () => {
    ensureBuilt();
    sim = await startLlmSim({ latencyMs: 50 });
    pool = testPool();
    persona = await createPersona(pool, 'budget');
  }, 180000);
  afterEach(stopAll);
  afterAll(async () => {
    await stopAll();
    await sim.close();
    await pool.end();
  });

  it('without a budget, two workers flood a limited model with 429s (what the budget is for)', async () => {
    const prefix = `test-nobudget-${Date.now()}`;
    await sim.setKnobs({ rpmLimit: 1200 });
    const api = await startOrchestrator({ QUEUE_PREFIX: prefix });
    try {
      const before = { ok: await simCount('200'), limited: await simCount('429') };
      const ids = await createTasks(api.url, 60, (i) => ({ persona_id: persona, topic: `flood ${i}` }));
      await Promise.all([spawn({ QUEUE_PREFIX: prefix }), spawn({ QUEUE_PREFIX: prefix })]);
      await waitForAll(ids, 120000);
      const limited = (await simCount('429')) - before.limited;
      const all = limited + (await simCount('200')) - before.ok;
      expect(limited / all).toBeGreaterThan(0.02);
    } finally {
      await api.close();
    }
  }, 180000);

  it('two workers with a 1,200 RPM budget against a 1,200 RPM model: every task succeeds, at most 2% of calls get 429, no attempt spent, breaker closed', async () => {
    const prefix = `test-budget-${Date.now()}`;
    await sim.setKnobs({ rpmLimit: 1200 });
    const api = await startOrchestrator({ QUEUE_PREFIX: prefix });
    try {
      const before = { ok: await simCount('200'), limited: await simCount('429') };
      const tasks = 200;
      // 100 calls in flight each: neither worker can hold every job, so both share the work.
      const env = { QUEUE_PREFIX: prefix, LLM_MAX_REQUESTS_PER_MINUTE: '1200', LLM_MAX_IN_FLIGHT: '100' };
      const workers = await Promise.all([spawn(env), spawn(env)]);
      const ids = await createTasks(api.url, tasks, (i) => ({ persona_id: persona, topic: `budget ${i}` }));
      const done = await waitForAll(ids, 120000);
      expect(done).toEqual({ byStatus: { succeeded: tasks }, posts: tasks, postTasks: tasks });

      const ok = (await simCount('200')) - before.ok;
      const limited = (await simCount('429')) - before.limited;
      // Only hook calls defer (before anything was paid for), so every call was made once.
      expect(ok).toBe(tasks * 2);
      expect(limited).toBeLessThanOrEqual(0.02 * (ok + limited));
      // Both workers took part, and waiting for budget cost no attempt and opened no breaker.
      for (const w of workers) {
        const metrics = await scrape(w.url);
        expect(metricValue(metrics, 'agent_tasks_completed_total', { status: 'succeeded' })).toBeGreaterThan(
          0,
        );
        expect(metricValue(metrics, 'llm_budget_wait_seconds_count')).toBeGreaterThan(0);
        expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'open' })).toBe(0);
      }
      const { rows } = await pool.query('SELECT max(attempts)::int AS n FROM tasks WHERE id = ANY($1)', [
        ids,
      ]);
      expect(rows[0].n).toBe(1);
    } finally {
      await api.close();
    }
  }, 180000);

  it('a job that would wait longer than LLM_BUDGET_MAX_WAIT_MS goes back to the queue without spending an attempt', async () => {
    const prefix = `test-budget-defer-${Date.now()}`;
    await sim.setKnobs({ rpmLimit: 0 });
    const api = await startOrchestrator({ QUEUE_PREFIX: prefix });
    try {
      const ids = await createTasks(api.url, 6, (i) => ({ persona_id: persona, topic: `patience ${i}` }));
      // 120 calls a minute: one every 500 ms; 12 calls cannot all be placed within 1 s.
      const worker = await spawn({
        QUEUE_PREFIX: prefix,
        LLM_MAX_REQUESTS_PER_MINUTE: '120',
        LLM_BUDGET_MAX_WAIT_MS: '1000',
      });
      const done = await waitForAll(ids, 60000);
      expect(done).toEqual({ byStatus: { succeeded: 6 }, posts: 6, postTasks: 6 });
      const metrics = await scrape(worker.url);
      expect(metricValue(metrics, 'agent_task_budget_deferrals_total')).toBeGreaterThan(0);
      expect(metricValue(metrics, 'agent_task_attempts_total', { result: 'transient_error' })).toBe(0);
      expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'failure' })).toBe(0);
      const { rows } = await pool.query('SELECT max(attempts)::int AS n FROM tasks WHERE id = ANY($1)', [
        ids,
      ]);
      expect(rows[0].n).toBe(1);
    } finally {
      await api.close();
    }
  }, 120000);
});
