import { Client, type Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { eventually, request, type JsonResponse } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { testConfig } from '../../../test/support/test-env';

// Shed answers come from a hook before body parsing, auth and the database; "fast" here is a
// generous bound for a shared CI machine, not a performance target (benchmarks measure those).
const FAST_MS = 250;

describe('load shedding (MAX_IN_FLIGHT per replica)', () => {
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'shed');
  });
  afterAll(async () => {
    await pool.end();
  });

  it('at N requests in flight (no waiting), the next get an immediate 503 + Retry-After and touch nothing; long-polls and probes still pass', async () => {
    const api: RunningApp = await startOrchestrator({ MAX_IN_FLIGHT: '3', MAX_IN_FLIGHT_QUEUE_MS: '0' });
    const locker = new Client({ connectionString: testConfig().DATABASE_URL });
    await locker.connect();
    try {
      const existing = await request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'already there' },
      });
      const before = await countRows(pool, 'tasks');
      // Inserts into tasks now wait for this lock: three requests stay in flight until it goes.
      await locker.query('BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE');
      const held = Array.from({ length: 3 }, (_, i) =>
        request(api.url, 'POST', '/v1/tasks', {
          body: { persona_id: persona, task_type: 'generate_post', topic: `held ${i}` },
        }),
      );
      await eventually(async () =>
        (await metricValue(api.url, 'http_requests_in_flight{app="orchestrator"}')) === 3 ? true : undefined,
      );

      const shed: JsonResponse[] = [];
      for (let i = 0; i < 10; i++) {
        shed.push(
          await request(api.url, 'POST', '/v1/tasks', {
            body: { persona_id: persona, task_type: 'generate_post', topic: `shed ${i}` },
          }),
        );
      }
      for (const res of shed) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(res.headers.get('x-request-id')).toBeTruthy();
        expect(res.body).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'This replica is serving its maximum of 3 requests at once; retry after 1 s',
        });
        expect(res.ms).toBeLessThan(FAST_MS);
      }
      expect(await metricValue(api.url, 'http_requests_shed_total{app="orchestrator"}')).toBe(10);

      // Readiness stays 200 (busy is not broken) and shows the load; liveness answers.
      const ready = await request(api.url, 'GET', '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.details.load).toEqual({
        status: 'up',
        inFlight: 3,
        waiting: 0,
        longPolls: 0,
        max: 3,
        shedding: true,
      });
      expect((await request(api.url, 'GET', '/health/live')).status).toBe(200);
      // A long-poll holds no connection while it waits, so it is not counted and not shed.
      const longPoll = await request(api.url, 'GET', `/v1/tasks/${existing.body.id}?wait=1`);
      expect(longPoll.status).toBe(200);

      await locker.query('ROLLBACK');
      const done = await Promise.all(held);
      expect(done.map((r) => r.status)).toEqual([202, 202, 202]);
      expect(await countRows(pool, 'tasks')).toBe(before + 3);
    } finally {
      await locker.end();
      await api.close();
    }
  });

  it('a pause is absorbed: with every slot taken, up to MAX_IN_FLIGHT requests wait for a slot and are served; one more is shed at once', async () => {
    const api = await startOrchestrator({ MAX_IN_FLIGHT: '2', MAX_IN_FLIGHT_QUEUE_MS: '10000' });
    const locker = new Client({ connectionString: testConfig().DATABASE_URL });
    await locker.connect();
    const post = (topic: string) =>
      request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic },
      });
    try {
      const before = await countRows(pool, 'tasks');
      // The "pause": inserts wait for this lock, so the first two requests hold both slots.
      await locker.query('BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE');
      const held = [post('held 0'), post('held 1')];
      await eventually(async () =>
        (await metricValue(api.url, 'http_requests_in_flight{app="orchestrator"}')) === 2 ? true : undefined,
      );
      const queued = [post('queued 0'), post('queued 1')];
      await eventually(async () =>
        (await metricValue(api.url, 'http_requests_waiting{app="orchestrator"}')) === 2 ? true : undefined,
      );
      const overflow = await post('overflow');
      expect(overflow.status).toBe(503);
      expect(overflow.headers.get('retry-after')).toBe('1');
      expect(overflow.ms).toBeLessThan(FAST_MS);

      await locker.query('ROLLBACK');
      const done = await Promise.all([...held, ...queued]);
      expect(done.map((r) => r.status)).toEqual([202, 202, 202, 202]);
      expect(await countRows(pool, 'tasks')).toBe(before + 4);
      expect(await metricValue(api.url, 'http_requests_waiting{app="orchestrator"}')).toBe(0);
      expect(await metricValue(api.url, 'http_requests_shed_total{app="orchestrator"}')).toBe(1);
    } finally {
      await locker.end();
      await api.close();
    }
  });

  it('an overload is shed: a request that waited MAX_IN_FLIGHT_QUEUE_MS without a slot gets 503 and writes nothing', async () => {
    const queueMs = 300;
    const api = await startOrchestrator({ MAX_IN_FLIGHT: '1', MAX_IN_FLIGHT_QUEUE_MS: String(queueMs) });
    const locker = new Client({ connectionString: testConfig().DATABASE_URL });
    await locker.connect();
    try {
      const before = await countRows(pool, 'tasks');
      await locker.query('BEGIN; LOCK TABLE tasks IN EXCLUSIVE MODE');
      const held = request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'held' },
      });
      await eventually(async () =>
        (await metricValue(api.url, 'http_requests_in_flight{app="orchestrator"}')) === 1 ? true : undefined,
      );
      const shed = await request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'shed after waiting' },
      });
      expect(shed.status).toBe(503);
      expect(shed.body.message).toBe(
        'This replica is serving its maximum of 1 requests at once; retry after 1 s',
      );
      // It was answered by the queue's deadline, not at once (the timer cannot fire early).
      expect(shed.ms).toBeGreaterThanOrEqual(queueMs - 5);
      await locker.query('ROLLBACK');
      expect((await held).status).toBe(202);
      expect(await countRows(pool, 'tasks')).toBe(before + 1);
    } finally {
      await locker.end();
      await api.close();
    }
  });

  it('while shedding a flood, the requests it accepts keep a healthy latency', async () => {
    const api = await startOrchestrator({ MAX_IN_FLIGHT: '2', MAX_IN_FLIGHT_QUEUE_MS: '0' });
    try {
      const results: JsonResponse[] = [];
      for (let round = 0; round < 5; round++) {
        results.push(
          ...(await Promise.all(
            Array.from({ length: 30 }, () => request(api.url, 'GET', '/v1/personas?limit=5')),
          )),
        );
      }
      const shed = results.filter((r) => r.status === 503);
      const accepted = results.filter((r) => r.status === 200);
      expect(shed.length + accepted.length).toBe(results.length);
      expect(shed.length).toBeGreaterThan(0);
      expect(accepted.length).toBeGreaterThan(0);
      expect(Math.max(...shed.map((r) => r.ms))).toBeLessThan(1000);
      expect(Math.max(...accepted.map((r) => r.ms))).toBeLessThan(1500);
    } finally {
      await api.close();
    }
  });

  it('MAX_IN_FLIGHT=0 turns shedding off', async () => {
    const api = await startOrchestrator({ MAX_IN_FLIGHT: '0' });
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, () => request(api.url, 'GET', '/v1/personas?limit=1')),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
    } finally {
      await api.close();
    }
  });
});
