import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually } from '../../../test/support/http';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue } from './support/metrics';
import { startPrivateRedis } from '../../../test/support/redis-server';
import { createTasks, progress } from '../../../test/support/tasks';
import { ensureBuilt, spawnWorker, type WorkerProcess } from './support/worker-process';

/**
 * The real worker entry point (node dist/apps/agent-worker/src/main.js) as a child process:
 * killed, stopped and cut off from Redis mid-run. Short locks so a dead worker's jobs come back
 * within about two seconds.
 */
describe('worker processes: crash, SIGTERM, Redis restart', () => {
  let sim: RunningSim;
  let pool: Pool;
  let persona: string;
  const children: WorkerProcess[] = [];

  const workerEnv = (prefix: string, overrides: Record<string, string> = {}) => ({
    QUEUE_PREFIX: prefix,
    LLM_PROVIDER: 'openai',
    LLM_BASE_URL: sim.baseUrl,
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '500',
    WORKER_BACKOFF_BASE_MS: '50',
    // Jobs at once = WORKER_CONCURRENCY, which these tests count on (no separate call allowance).
    LLM_MAX_IN_FLIGHT: '0',
    ...overrides,
  });
  const spawn = async (env: Record<string, string>) => {
    const child = await spawnWorker(env);
    children.push(child);
    await child.ready();
    return child;
  };
  const waitUntil = async (
    ids: string[],
    what: (p: Awaited<ReturnType<typeof progress>>) => boolean,
    timeoutMs: number,
    child?: WorkerProcess,
  ) => {
    try {
      return await eventually(
        async () => {
          const p = await progress(pool, ids);
          return what(p) ? p : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify(await progress(pool, ids))}${child ? `; worker log ${child.logFile}` : ''}`,
      );
    }
  };

  beforeAll(async () => {
    ensureBuilt();
    sim = await startLlmSim();
    pool = testPool();
    persona = await createPersona(pool, 'processes');
  }, 180000);
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGKILL');
    await sim.close();
    await pool.end();
  });

  it('kill -9 mid-run with 240 tasks: a new worker finishes every task, exactly one post each', async () => {
    await sim.setKnobs({ latencyMs: 40 });
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-crash' });
    try {
      const first = await spawn(workerEnv('test-crash', { WORKER_CONCURRENCY: '8' }));
      const ids = await createTasks(api.url, 240, (i) => ({ persona_id: persona, topic: `crash ${i}` }));
      await waitUntil(ids, (p) => (p.byStatus.succeeded ?? 0) >= 60, 60000, first);
      first.kill('SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const atCrash = await progress(pool, ids);
      expect(atCrash.byStatus.succeeded).toBeLessThan(240);

      const second = await spawn(workerEnv('test-crash', { WORKER_CONCURRENCY: '8' }));
      const done = await waitUntil(ids, (p) => p.byStatus.succeeded === 240, 90000, second);
      expect(done).toEqual({ byStatus: { succeeded: 240 }, posts: 240, postTasks: 240 });
      // The jobs the dead worker held came back (stalled-job recovery) and were claimed again.
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND attempts > 1',
        [ids],
      );
      expect(rows[0].n).toBeGreaterThan(0);
      second.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    } finally {
      await api.close();
    }
  }, 180000);

  it('kill -9 with a thousand calls in flight against a slow model: every task succeeds exactly once', async () => {
    // Calls of 100 to 1,900 ms: completions spread over seconds rather than arriving in one wave,
    // so when the first hundred have finished most tasks are still running, however slow the box.
    await sim.setKnobs({ latencyMs: 1000, jitterMs: 900 });
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-crash-wide' });
    // The defaults of the openai provider (1000 calls in flight), with locks long enough that a
    // busy box cannot make a live worker lose one, so any task run twice is one the kill cut short.
    const wide = (o: Record<string, string> = {}) =>
      workerEnv('test-crash-wide', {
        LLM_MAX_IN_FLIGHT: 'auto',
        WORKER_LOCK_DURATION_MS: '5000',
        WORKER_STALLED_INTERVAL_MS: '1000',
        ...o,
      });
    try {
      const ids = await createTasks(api.url, 1200, (i) => ({
        persona_id: persona,
        topic: `wide crash ${i}`,
      }));
      const first = await spawn(wide());
      const metrics = await fetch(`${first.url}/metrics`).then((r) => r.text());
      expect(metricValue(metrics, 'llm_calls_max_in_flight')).toBe(1000);
      await eventually(async () => ((await sim.stats()).inFlight >= 500 ? true : undefined), 60000, 50);
      await waitUntil(ids, (p) => (p.byStatus.succeeded ?? 0) >= 100, 60000, first);
      first.kill('SIGKILL');
      expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const { rows: atKill } = await pool.query<{ id: string; status: string; attempts: number }>(
        'SELECT id, status, attempts FROM tasks WHERE id = ANY($1)',
        [ids],
      );
      const runningAtKill = atKill.filter((t) => t.status === 'running').map((t) => t.id);
      const doneBeforeKill = atKill.filter((t) => t.status === 'succeeded');
      expect(runningAtKill.length).toBeGreaterThan(100);
      expect(doneBeforeKill.length).toBeLessThan(1200);
      // Lock renewals held for a thousand jobs: nothing finished before the kill ran twice.
      expect(doneBeforeKill.filter((t) => t.attempts !== 1)).toEqual([]);

      const second = await spawn(wide());
      const done = await waitUntil(ids, (p) => p.byStatus.succeeded === 1200, 120000, second);
      // Group commits at that width: one post per task, none lost, none doubled.
      expect(done).toEqual({ byStatus: { succeeded: 1200 }, posts: 1200, postTasks: 1200 });
      const { rows: reruns } = await pool.query<{ id: string }>(
        'SELECT id FROM tasks WHERE id = ANY($1) AND attempts > 1',
        [ids],
      );
      // Only the jobs the dead worker held came back (stalled-job recovery), and they did.
      expect(reruns.length).toBeGreaterThan(0);
      expect(reruns.map((r) => r.id).filter((id) => !runningAtKill.includes(id))).toEqual([]);
      second.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    } finally {
      await sim.setKnobs({ jitterMs: 0 });
      await api.close();
    }
  }, 240000);

  it('SIGTERM mid-run: running jobs finish, the rest wait in the queue; nothing is lost', async () => {
    await sim.setKnobs({ latencyMs: 250 });
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-sigterm' });
    try {
      const worker = await spawn(
        workerEnv('test-sigterm', { WORKER_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE_MS: '10000' }),
      );
      const ids = await createTasks(api.url, 40, (i) => ({ persona_id: persona, topic: `sigterm ${i}` }));
      await waitUntil(ids, (p) => (p.byStatus.succeeded ?? 0) >= 4, 30000, worker);
      const stoppedAt = Date.now();
      worker.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - stoppedAt).toBeLessThan(5000);
      const afterStop = await progress(pool, ids);
      // Every job that was running finished before the exit; the others are untouched.
      expect(afterStop.byStatus.running).toBeUndefined();
      expect(afterStop.byStatus.succeeded).toBeLessThan(40);
      expect(afterStop.posts).toBe(afterStop.byStatus.succeeded);

      await sim.setKnobs({ latencyMs: 10 });
      const next = await spawn(workerEnv('test-sigterm', { WORKER_CONCURRENCY: '8' }));
      const done = await waitUntil(ids, (p) => p.byStatus.succeeded === 40, 60000, next);
      expect(done).toEqual({ byStatus: { succeeded: 40 }, posts: 40, postTasks: 40 });
      next.kill('SIGTERM');
      await next.exited;
    } finally {
      await api.close();
    }
  }, 120000);

  it('a second SIGTERM exits at once; the interrupted jobs are finished by the next worker', async () => {
    await sim.setKnobs({ latencyMs: 5000 });
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-sigterm2' });
    try {
      const worker = await spawn(
        workerEnv('test-sigterm2', { WORKER_CONCURRENCY: '2', WORKER_SHUTDOWN_GRACE_MS: '60000' }),
      );
      const ids = await createTasks(api.url, 4, (i) => ({ persona_id: persona, topic: `impatient ${i}` }));
      await eventually(async () => ((await sim.stats()).inFlight >= 2 ? true : undefined), 10000, 50);
      worker.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(worker.child.exitCode).toBeNull(); // still draining: its jobs take 5 s per call
      const draining = await fetch(`${worker.url}/health/ready`);
      expect(draining.status).toBe(503);
      expect(((await draining.json()) as any).error.worker).toEqual({ status: 'down', draining: true });
      const secondAt = Date.now();
      worker.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 143, signal: null });
      expect(Date.now() - secondAt).toBeLessThan(1500);

      await sim.setKnobs({ latencyMs: 10 });
      const next = await spawn(workerEnv('test-sigterm2'));
      const done = await waitUntil(ids, (p) => p.byStatus.succeeded === 4, 30000, next);
      expect(done).toEqual({ byStatus: { succeeded: 4 }, posts: 4, postTasks: 4 });
      next.kill('SIGTERM');
      await next.exited;
    } finally {
      await api.close();
    }
  }, 90000);

  it('Redis restarts mid-run: the worker reconnects and finishes every task', async () => {
    await sim.setKnobs({ latencyMs: 30 });
    const redis = await startPrivateRedis();
    const api: RunningApp = await startOrchestrator({ QUEUE_PREFIX: 'test-redis', REDIS_URL: redis.url });
    try {
      const worker = await spawn(workerEnv('test-redis', { REDIS_URL: redis.url, WORKER_CONCURRENCY: '4' }));
      const ids = await createTasks(api.url, 100, (i) => ({ persona_id: persona, topic: `redis ${i}` }));
      await waitUntil(ids, (p) => (p.byStatus.succeeded ?? 0) >= 20, 30000, worker);
      await redis.restart(1500);
      const atRestart = await progress(pool, ids);
      expect(atRestart.byStatus.succeeded).toBeLessThan(100);

      const done = await waitUntil(ids, (p) => p.byStatus.succeeded === 100, 60000, worker);
      expect(done).toEqual({ byStatus: { succeeded: 100 }, posts: 100, postTasks: 100 });
      const ready = await fetch(`${worker.url}/health/ready`);
      expect(ready.status).toBe(200);
      worker.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    } finally {
      await api.close();
      await redis.close();
    }
  }, 120000);
});
