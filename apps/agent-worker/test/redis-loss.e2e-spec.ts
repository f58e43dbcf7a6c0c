import type { Pool } from 'pg';
import { startOrchestrator } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { startPrivateRedis } from '../../../test/support/redis-server';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { createTasks, progress } from '../../../test/support/tasks';
import { ensureBuilt, spawnWorker, type WorkerProcess } from './support/worker-process';

/**
 * Redis restarted without persistence comes back empty: every job is gone, those of queued tasks
 * and those of running ones. The orchestrator's reconciler (on its timer, as in production) gives
 * each task a new job; the running ones after one lock duration, not RECONCILER_STALE_RUNNING_MS.
 */
describe('Redis comes back empty', () => {
  const LOCK_MS = 2000;
  let sim: RunningSim;
  let pool: Pool;
  let persona: string;
  const children: WorkerProcess[] = [];

  const spawn = async (redisUrl: string) => {
    const child = await spawnWorker({
      QUEUE_PREFIX: 'test-empty',
      REDIS_URL: redisUrl,
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: sim.baseUrl,
      WORKER_CONCURRENCY: '4',
      LLM_MAX_IN_FLIGHT: '0',
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: '500',
    });
    children.push(child);
    await child.ready();
    return child;
  };

  beforeAll(async () => {
    ensureBuilt();
    sim = await startLlmSim();
    pool = testPool();
    persona = await createPersona(pool, 'redis-empty');
  }, 180000);
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGKILL');
    await sim.close();
    await pool.end();
  });

  it('queued and running tasks accepted before and during the outage all succeed exactly once', async () => {
    await sim.setKnobs({ latencyMs: 3000 });
    // The reconciler sweeps the whole test database: unfinished tasks other suites left behind
    // would be queued ahead of this test's tasks and keep its worker busy. Suites run one at a
    // time, so they are nobody's any more.
    await pool.query(
      `UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now() WHERE status IN ('queued', 'running')`,
    );
    const redis = await startPrivateRedis({ port: 6492, persist: false });
    const api = await startOrchestrator({
      QUEUE_PREFIX: 'test-empty',
      REDIS_URL: redis.url,
      RECONCILER_ENABLED: 'true',
      RECONCILER_INTERVAL_MS: '500',
      RECONCILER_GRACE_MS: '1000',
      // What the workers use: a running task whose job is gone for this long has no worker.
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
    });
    try {
      const first = await spawn(redis.url);
      const before = await createTasks(api.url, 12, (i) => ({ persona_id: persona, topic: `before ${i}` }));
      await eventually(async () => {
        const p = await progress(pool, before);
        return (p.byStatus.running ?? 0) >= 4 ? true : undefined;
      }, 15000);

      // Redis stops, and the worker dies while it is down.
      await redis.stop();
      first.kill('SIGKILL');
      await first.exited;
      const during = await createTasks(api.url, 4, (i) => ({ persona_id: persona, topic: `during ${i}` }));
      const ids = [...before, ...during];
      const atLoss = await progress(pool, ids);
      const runningAtLoss = atLoss.byStatus.running ?? 0;
      expect(runningAtLoss).toBeGreaterThan(0);
      expect(atLoss.byStatus.queued ?? 0).toBeGreaterThanOrEqual(4);

      await sim.setKnobs({ latencyMs: 20 });
      await redis.start();
      await spawn(redis.url);
      // Well within RECONCILER_STALE_RUNNING_MS (5 min): the running ones come back after one lock duration.
      const done = await eventually(async () => {
        const p = await progress(pool, ids);
        return p.byStatus.succeeded === 16 ? p : undefined;
      }, 30000);
      expect(done).toEqual({ byStatus: { succeeded: 16 }, posts: 16, postTasks: 16 });
      // They came back through the reconciler (read until /metrics answers: a busy box may shed a request).
      const requeuedRunning = await eventually(
        () => metricValue(api.url, 'reconciler_requeued_total{status="running",app="orchestrator"}'),
        10000,
        100,
      );
      expect(requeuedRunning).toBeGreaterThanOrEqual(runningAtLoss);
    } finally {
      for (const c of children)
        if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGTERM');
      await api.close();
      await redis.close();
    }
  }, 120000);
});
