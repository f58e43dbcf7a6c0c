import type { Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { startPrivateRedis } from '../../../test/support/redis-server';
import { createTasks as createTasksVia } from '../../../test/support/tasks';
import { testConfig } from '../../../test/support/test-env';
import { acquireReconcilerLease, releaseReconcilerLease } from '@app/db';
import { ReconcilerService } from '../src/reconciler/reconciler.service';
import { TaskQueueService } from '../src/tasks/task-queue.service';

describe('dual-write safety: Redis down at enqueue time, then the reconciler', () => {
  let healthy: RunningApp;
  let redisDown: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    // Same database and queue prefix, but Redis unreachable (nothing listens on port 1).
    redisDown = await startOrchestrator({ REDIS_URL: 'redis://127.0.0.1:1', ENQUEUE_TIMEOUT_MS: '300' });
    healthy = await startOrchestrator({ RECONCILER_GRACE_MS: '0' });
    pool = testPool();
    persona = await createPersona(pool, 'recon');
  });
  afterAll(async () => {
    await redisDown.close();
    await healthy.close();
    await pool.end();
  });

  it('accepts the task fast (202) while Redis is down, and the reconciler queues it', async () => {
    const res = await request(redisDown.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'redis is down' },
    });
    expect(res.status).toBe(202);
    expect(res.ms).toBeLessThan(2000);
    const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [res.body.id]);
    expect(rows).toEqual([{ status: 'queued' }]);

    const queue = healthy.app.get<Queue>('BullQueue_agent-tasks');
    expect(await queue.getJob(res.body.id)).toBeNull();

    // Every task the pass re-queued is counted, by the status it had (leftovers of other suites
    // sharing the test database may be running ones).
    const counted = async () =>
      ((await metricValue(healthy.url, 'reconciler_requeued_total{status="queued",app="orchestrator"}')) ??
        0) +
      ((await metricValue(healthy.url, 'reconciler_requeued_total{status="running",app="orchestrator"}')) ??
        0);
    const before = await counted();
    const result = await healthy.app.get(ReconcilerService).reconcileOnce();
    expect(result.ran).toBe(true);
    expect(result.requeued).toContain(res.body.id);
    // What the alert rule AgentPlatformReconcilerRequeues watches.
    expect(await counted()).toBe(before + result.requeued.length);
    const job = await queue.getJob(res.body.id);
    expect(job?.data.taskId).toBe(res.body.id);

    // Nothing left to do on the next pass: the job exists now.
    const again = await healthy.app.get(ReconcilerService).reconcileOnce();
    expect(again.requeued).not.toContain(res.body.id);
  });

  it('re-queues a running task whose job vanished from Redis', async () => {
    const res = await request(healthy.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'lost while running' },
    });
    await healthy.app.get(TaskQueueService).settled();
    const queue = healthy.app.get<Queue>('BullQueue_agent-tasks');
    await (await queue.getJob(res.body.id))!.remove();
    await pool.query(
      `UPDATE tasks SET status = 'running', updated_at = now() - interval '1 hour' WHERE id = $1`,
      [res.body.id],
    );

    const before =
      (await metricValue(healthy.url, 'reconciler_requeued_total{status="running",app="orchestrator"}')) ?? 0;
    const result = await healthy.app.get(ReconcilerService).reconcileOnce();
    expect(result.requeued).toContain(res.body.id);
    expect(
      await metricValue(healthy.url, 'reconciler_requeued_total{status="running",app="orchestrator"}'),
    ).toBeGreaterThanOrEqual(before + 1);
    const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [res.body.id]);
    expect(rows).toEqual([{ status: 'queued' }]);
    expect(await queue.getJob(res.body.id)).not.toBeNull();
  });

  it('does nothing while another replica holds the lease', async () => {
    const other = `other-replica-${process.pid}`;
    expect(await acquireReconcilerLease(pool, { holder: other, ttlMs: 60_000 })).not.toBeNull();
    try {
      const result = await healthy.app.get(ReconcilerService).reconcileOnce();
      expect(result).toEqual({ ran: false, examined: 0, requeued: [], swept: false, redisDown: false });
    } finally {
      await releaseReconcilerLease(pool, { holder: other });
    }
    expect((await healthy.app.get(ReconcilerService).reconcileOnce()).ran).toBe(true);
  });

  it('leaves a fresh queued task alone during the grace period', async () => {
    const graceful = await startOrchestrator({
      RECONCILER_GRACE_MS: '60000',
      REDIS_URL: testConfig().REDIS_URL,
    });
    try {
      const res = await request(redisDown.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'just created' },
      });
      expect(res.status).toBe(202);
      const result = await graceful.app.get(ReconcilerService).reconcileOnce();
      expect(result.requeued).not.toContain(res.body.id);
    } finally {
      await graceful.close();
    }
  });
});

describe('the reconciler finds every lost job', () => {
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'lost');
  });
  afterAll(async () => {
    await pool.end();
  });

  /** Creates tasks through the API, eight requests at a time; their ids in order. */
  const createTasks = (url: string, count: number, topic: string): Promise<string[]> =>
    createTasksVia(url, count, (i) => ({ persona_id: persona, topic: `${topic} ${i}` }));

  const statusOf = async (id: string): Promise<string> =>
    (await pool.query('SELECT status FROM tasks WHERE id = $1', [id])).rows[0].status;

  it('a job whose hash sits in no list is removed and added again, and the task then succeeds', async () => {
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-stuck', RECONCILER_GRACE_MS: '0' });
    try {
      const [id] = await createTasks(api.url, 1, 'stuck');
      await api.app.get(TaskQueueService).settled();
      const queue = api.app.get<Queue>('BullQueue_agent-tasks');
      // The hash survives but the id is in no list (a write lost in a failover): adding the same
      // job id again is a no-op in Bull, so only removing the hash first brings the job back.
      expect(await queue.client.lrem('test-stuck:agent-tasks:wait', 0, id)).toBe(1);
      expect(await (await queue.getJob(id))!.getState()).toBe('stuck');

      const result = await api.app.get(ReconcilerService).reconcileOnce();
      expect(result.requeued).toContain(id);
      expect(await (await queue.getJob(id))!.getState()).toBe('waiting');

      const worker = await startWorker({ QUEUE_PREFIX: 'test-stuck' });
      try {
        await eventually(async () => ((await statusOf(id)) === 'succeeded' ? true : undefined), 15000);
      } finally {
        await worker.close();
      }
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM posts WHERE task_id = $1', [id]);
      expect(rows[0].n).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('never touches a run a worker holds: an active job, even one missing from its list, keeps its task running', async () => {
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-live', RECONCILER_GRACE_MS: '0' });
    let ids: string[] = [];
    try {
      ids = await createTasks(api.url, 2, 'held by a worker');
      await api.app.get(TaskQueueService).settled();
      const queue = api.app.get<Queue>('BullQueue_agent-tasks');
      // What a worker does: take both jobs (active, locked for Bull's default 30 s).
      const taken = [await queue.getNextJob(), await queue.getNextJob()];
      expect(taken.map((job) => job?.id).sort()).toEqual([...ids].sort());
      // One of them also lost its place in the active list: stuck, but its lock is alive.
      expect(await queue.client.lrem('test-live:agent-tasks:active', 0, ids[1])).toBe(1);
      await pool.query(
        `UPDATE tasks SET status = 'running', updated_at = now() - interval '1 hour' WHERE id = ANY($1)`,
        [ids],
      );

      const result = await api.app.get(ReconcilerService).reconcileOnce();
      expect(result.requeued.filter((id) => ids.includes(id))).toEqual([]);
      expect([await statusOf(ids[0]), await statusOf(ids[1])]).toEqual(['running', 'running']);
      expect(await (await queue.getJob(ids[0]))!.getState()).toBe('active');
      expect(await queue.getJob(ids[1])).not.toBeNull();
    } finally {
      await pool.query(`UPDATE tasks SET status = 'cancelled' WHERE id = ANY($1)`, [ids]);
      await api.close();
    }
  });

  it('a queued task whose job failed gets a fresh job; one whose job waits out a retry delay is left alone', async () => {
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-finished', RECONCILER_GRACE_MS: '0' });
    try {
      const queue = api.app.get<Queue>('BullQueue_agent-tasks');
      const tasks = api.app.get(TaskQueueService);
      // A job that ran out of attempts (or whose worker failed it) while the task stayed queued.
      const [failed] = await createTasks(api.url, 1, 'failed job');
      await tasks.settled();
      const active = (await queue.getNextJob())!;
      expect(active.id).toBe(failed);
      await active.discard(); // failed for good, no retry
      await active.moveToFailed({ message: 'gave up' });
      // A job waiting out a retry delay.
      const [delayed] = await createTasks(api.url, 1, 'delayed job');
      await tasks.settled();
      await (await queue.getJob(delayed))!.remove();
      await queue.add('run-task', { taskId: delayed, requestId: null }, { jobId: delayed, delay: 60_000 });
      expect(await (await queue.getJob(failed))!.getState()).toBe('failed');
      expect(await (await queue.getJob(delayed))!.getState()).toBe('delayed');

      const result = await api.app.get(ReconcilerService).reconcileOnce();
      expect(result.requeued).toContain(failed);
      expect(result.requeued).not.toContain(delayed);
      expect(await (await queue.getJob(failed))!.getState()).toBe('waiting');
      expect(await (await queue.getJob(delayed))!.getState()).toBe('delayed');
    } finally {
      await api.close();
    }
  });

  it('a backlog of 600 older tasks with live jobs does not hide a newer lost one: one pass re-queues it', async () => {
    // Default batch size (500): the backlog alone is more than one page.
    const api = await startOrchestrator({ QUEUE_PREFIX: 'test-backlog' });
    const queue = api.app.get<Queue>('BullQueue_agent-tasks');
    const backlog = await createTasks(api.url, 600, 'backlog');
    const [lost] = await createTasks(api.url, 1, 'lost behind a backlog');
    const all = [...backlog, lost];
    try {
      await api.app.get(TaskQueueService).settled();
      expect(await queue.getWaitingCount()).toBe(601);
      await (await queue.getJob(lost))!.remove();
      // Older than the grace period (and than any other task in the test database); the lost task is the newest.
      await pool.query(`UPDATE tasks SET updated_at = now() - interval '1000 days' WHERE id = ANY($1)`, [
        backlog,
      ]);
      await pool.query(`UPDATE tasks SET updated_at = now() - interval '1 hour' WHERE id = $1`, [lost]);

      const result = await api.app.get(ReconcilerService).reconcileOnce();
      expect(result).toMatchObject({ ran: true, swept: true, redisDown: false });
      expect(result.examined).toBeGreaterThanOrEqual(601);
      expect(result.requeued).toContain(lost);
      expect(result.requeued.filter((id) => backlog.includes(id))).toEqual([]);
      expect(await (await queue.getJob(lost))!.getState()).toBe('waiting');
    } finally {
      await queue.empty();
      await pool.query(`UPDATE tasks SET status = 'cancelled', updated_at = now() WHERE id = ANY($1)`, [all]);
      await api.close();
    }
  });

  it('Redis down: a pass ends within ENQUEUE_TIMEOUT_MS and no connection sits idle in transaction', async () => {
    const redis = await startPrivateRedis({ port: 6491, persist: false });
    const api = await startOrchestrator({
      QUEUE_PREFIX: 'test-down',
      REDIS_URL: redis.url,
      ENQUEUE_TIMEOUT_MS: '500',
      RECONCILER_GRACE_MS: '0',
    });
    const watcher = testPool();
    let watching = true;
    try {
      const [id] = await createTasks(api.url, 1, 'redis down');
      await api.app.get(TaskQueueService).settled();
      await redis.stop();

      // Watches every session on the test database while the pass runs.
      const idleInTransaction: unknown[] = [];
      const watch = (async () => {
        while (watching) {
          const { rows } = await watcher.query(
            `SELECT pid, application_name, query FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
          );
          idleInTransaction.push(...rows);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const started = Date.now();
      const result = await api.app.get(ReconcilerService).reconcileOnce();
      const ms = Date.now() - started;
      watching = false;
      await watch;

      expect(result).toMatchObject({ ran: true, redisDown: true, requeued: [] });
      // The bound: one Redis call's deadline plus the lease's two statements.
      expect(ms).toBeLessThan(500 + 1500);
      expect(idleInTransaction).toEqual([]);
      expect(await statusOf(id)).toBe('queued');
      // The lease was given back: the next pass may run anywhere.
      const other = `after-outage-${process.pid}`;
      expect(await acquireReconcilerLease(pool, { holder: other, ttlMs: 1000 })).not.toBeNull();
      await releaseReconcilerLease(pool, { holder: other });
    } finally {
      watching = false;
      await watcher.end();
      await api.close();
      await redis.close();
    }
  });
});
