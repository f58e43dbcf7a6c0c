import type { Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { TaskQueueService } from '../src/tasks/task-queue.service';

const APP = 'app="orchestrator"';

describe('orchestrator metrics (/metrics)', () => {
  let api: RunningApp;
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    // Its own queue, so the depth gauges count only this suite's jobs.
    api = await startOrchestrator({ QUEUE_PREFIX: `test-metrics-${Date.now()}`, DB_POOL_MAX: '7' });
    pool = testPool();
    persona = await createPersona(pool, 'metrics');
  });
  afterAll(async () => {
    await api.app.get<Queue>('BullQueue_agent-tasks').obliterate({ force: true });
    await api.close();
    await pool.end();
  });

  it('times requests by route pattern and status, never by raw URL', async () => {
    const created = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'metrics' },
    });
    expect(created.status).toBe(202);
    await request(api.url, 'GET', `/v1/tasks/${created.body.id}`);
    await request(api.url, 'GET', `/v1/tasks/${created.body.id}`);
    await request(api.url, 'GET', '/no/such/route/raw-url-marker');

    expect(
      await metricValue(
        api.url,
        `http_request_duration_seconds_count{${APP},method="GET",route="/v1/tasks/:id",status_code="200"}`,
      ),
    ).toBe(2);
    expect(
      await metricValue(
        api.url,
        `http_request_duration_seconds_count{${APP},method="POST",route="/v1/tasks",status_code="202"}`,
      ),
    ).toBe(1);
    expect(
      await metricValue(
        api.url,
        `http_request_duration_seconds_count{${APP},method="GET",route="unmatched",status_code="404"}`,
      ),
    ).toBe(1);
    const text = String((await request(api.url, 'GET', '/metrics')).body);
    expect(text).not.toContain(created.body.id);
    expect(text).not.toContain('raw-url-marker');
  });

  it('counts created tasks (not idempotent replays) and reports queue depth by state', async () => {
    const before =
      (await metricValue(api.url, `tasks_created_total{task_type="generate_thread",${APP}}`)) ?? 0;
    const body = { persona_id: persona, task_type: 'generate_thread', topic: 'depth' };
    const headers = { 'idempotency-key': `metrics-${Date.now()}` };
    expect((await request(api.url, 'POST', '/v1/tasks', { body, headers })).status).toBe(202);
    expect((await request(api.url, 'POST', '/v1/tasks', { body, headers })).status).toBe(200);
    expect(await metricValue(api.url, `tasks_created_total{task_type="generate_thread",${APP}}`)).toBe(
      before + 1,
    );

    await api.app.get(TaskQueueService).settled();
    const counts = await api.app.get<Queue>('BullQueue_agent-tasks').getJobCounts();
    expect(counts.waiting).toBeGreaterThan(0);
    for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) {
      expect(await metricValue(api.url, `queue_jobs{queue="agent-tasks",state="${state}",${APP}}`)).toBe(
        counts[state],
      );
    }
  });

  it('reports the age of the oldest waiting job (what the queue-wait alert watches)', async () => {
    const queue = api.app.get<Queue>('BullQueue_agent-tasks');
    expect(
      (
        await request(api.url, 'POST', '/v1/tasks', {
          body: { persona_id: persona, task_type: 'generate_post', topic: 'waiting' },
        })
      ).status,
    ).toBe(202);
    await api.app.get(TaskQueueService).settled();
    const waiting = await queue.getWaiting();
    const oldestAddedAt = Math.min(...waiting.map((job) => job.timestamp));
    const before = Date.now();
    const age = await metricValue(
      api.url,
      `queue_oldest_waiting_job_age_seconds{queue="agent-tasks",${APP}}`,
    );
    const after = Date.now();
    expect(age).toBeGreaterThanOrEqual((before - oldestAddedAt) / 1000);
    expect(age).toBeLessThanOrEqual((after - oldestAddedAt) / 1000);
  });

  it('reports the SQL pool and the load of this replica', async () => {
    // DB_POOL_MAX 7: TypeORM's pool takes a quarter (1), the SQL pool the task statements use the rest.
    expect(await metricValue(api.url, `db_pool_max_connections{${APP}}`)).toBe(6);
    const total = await metricValue(api.url, `db_pool_connections{${APP}}`);
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThanOrEqual(6);
    expect(await metricValue(api.url, `db_pool_idle_connections{${APP}}`)).toBeLessThanOrEqual(total!);
    expect(await metricValue(api.url, `db_pool_waiting_clients{${APP}}`)).toBe(0);
    expect(await metricValue(api.url, `http_requests_max_in_flight{${APP}}`)).toBe(api.env.MAX_IN_FLIGHT);
    // The scrape itself is exempt from the in-flight count.
    expect(await metricValue(api.url, `http_requests_in_flight{${APP}}`)).toBe(0);
    expect(await metricValue(api.url, `http_requests_shed_total{${APP}}`)).toBe(0);
    expect(await metricValue(api.url, `rate_limiter_storage_errors_total{${APP}}`)).toBe(0);
  });

  it('the worker reports its SQL pool too (DbModule registers the gauges in both apps)', async () => {
    const worker = await startWorker({ DB_POOL_MAX: '5', QUEUE_PREFIX: `test-metrics-w-${Date.now()}` });
    try {
      expect(await metricValue(worker.url, 'db_pool_max_connections{app="agent-worker"}')).toBe(4);
    } finally {
      await worker.close();
    }
  });
});
