import type { Queue } from 'bull';
import { Client, type Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { testConfig } from '../../../test/support/test-env';
import { RECONCILER_LOCK_KEY } from '@app/db';
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

    const counted = () =>
      metricValue(healthy.url, 'reconciler_requeued_total{status="queued",app="orchestrator"}');
    const before = (await counted()) ?? 0;
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

  it('does nothing while another replica holds the advisory lock', async () => {
    const other = new Client({ connectionString: testConfig().DATABASE_URL });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [RECONCILER_LOCK_KEY]);
      const result = await healthy.app.get(ReconcilerService).reconcileOnce();
      expect(result).toEqual({ ran: false, examined: 0, requeued: [] });
    } finally {
      await other.end();
    }
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
