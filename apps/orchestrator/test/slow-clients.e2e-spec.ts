import { connect } from 'node:net';
import type { Pool } from 'pg';
import { apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';

interface StalledUpload {
  /** The status of the first answer on the socket (null: closed without one) and when it came. */
  answer: Promise<{ status: number | null; ms: number }>;
  destroy(): void;
}

/** Sends a POST's headers and part of its body, then nothing more: a stalled (or hostile) upload. */
function stalledUpload(base: string): StalledUpload {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const started = performance.now();
  const answer = new Promise<{ status: number | null; ms: number }>((resolve) => {
    let received = '';
    const done = (status: number | null) => resolve({ status, ms: performance.now() - started });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const line = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (line) done(Number(line[1]));
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
  socket.write(
    'POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n{"persona_id":',
  );
  return { answer, destroy: () => socket.destroy() };
}

describe('slow clients cannot starve a replica', () => {
  const apps: RunningApp[] = [];
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'slow-clients');
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await pool.end();
  });
  const start = async (overrides: Record<string, string>) => {
    const app = await startOrchestrator(overrides);
    apps.push(app);
    return app;
  };

  it('stalled uploads get 408 at HTTP_REQUEST_TIMEOUT_MS and free their MAX_IN_FLIGHT slots: normal requests are served again within 15 s', async () => {
    const DEADLINE_MS = 3000;
    const api = await start({ MAX_IN_FLIGHT: '4', HTTP_REQUEST_TIMEOUT_MS: String(DEADLINE_MS) });
    const started = performance.now();
    const uploads = Array.from({ length: 6 }, () => stalledUpload(api.url));
    try {
      // The four that got a slot hold it; the other two wait MAX_IN_FLIGHT_QUEUE_MS for one and are shed.
      await eventually(async () =>
        (await metricValue(api.url, 'http_requests_in_flight{app="orchestrator"}')) === 4 ? true : undefined,
      );
      const served = await eventually(async () => {
        const res = await request(api.url, 'GET', '/v1/personas?limit=1');
        return res.status === 200 ? res : undefined;
      }, 15_000);
      expect(served.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(15_000);

      const answers = await Promise.all(uploads.map((u) => u.answer));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([408, 408, 408, 408, 503, 503]);
      // Never before the deadline (measured from before the first byte was sent).
      for (const a of answers.filter((x) => x.status === 408))
        expect(a.ms).toBeGreaterThanOrEqual(DEADLINE_MS);
      expect(await metricValue(api.url, 'http_requests_in_flight{app="orchestrator"}')).toBe(0);
    } finally {
      for (const u of uploads) u.destroy();
    }
  });

  it('a request sent in full in time is not cut by the deadline, and a long-poll outlives it (its request arrived)', async () => {
    const api = await start({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
    const task = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'long-poll past the request deadline' },
    });
    expect(task.status).toBe(202);
    const poll = await request(api.url, 'GET', `/v1/tasks/${task.body.id}?wait=3`);
    expect(poll.status).toBe(200);
    expect(poll.body.status).toBe('queued');
    expect(poll.ms).toBeGreaterThanOrEqual(2900);
  });

  describe('long-polls have a budget of their own (LONG_POLL_MAX_WAITERS), decided after authentication', () => {
    const reader = testKey('long-poller', ['tasks:read', 'tasks:write']);
    let api: RunningApp;
    let taskId: string;
    const as = (secret: string | undefined, method: string, path: string) =>
      request(api.url, method, path, { headers: secret ? { 'x-api-key': secret } : {} });
    const waiters = () => metricValue(api.url, 'task_waiters{app="orchestrator"}');

    beforeAll(async () => {
      api = await start({ LONG_POLL_MAX_WAITERS: '2', API_KEYS: apiKeysEnv([reader]) });
      const created = await request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'waited on' },
        headers: { 'x-api-key': reader.secret },
      });
      expect(created.status).toBe(202);
      taskId = created.body.id;
    });

    it('beyond the budget: an immediate 503 with Retry-After; an unauthenticated long-poll is a 401 and never counted; places come back', async () => {
      const polls = [1, 2].map(() => as(reader.secret, 'GET', `/v1/tasks/${taskId}?wait=25`));
      await eventually(async () => ((await waiters()) === 2 ? true : undefined));

      // A long-poll let in would answer 200 after its two seconds: the 503 says it was never let in.
      const refused = await as(reader.secret, 'GET', `/v1/tasks/${taskId}?wait=2`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body.message).toMatch(/maximum of 2 waiting requests/);

      const anonymous = await as(undefined, 'GET', `/v1/tasks/${taskId}?wait=1`);
      expect(anonymous.status).toBe(401);
      expect(await waiters()).toBe(2);
      // A read that does not wait is not a waiter.
      expect((await as(reader.secret, 'GET', `/v1/tasks/${taskId}`)).status).toBe(200);
      expect(await metricValue(api.url, 'task_waiters_refused_total{app="orchestrator"}')).toBe(1);

      // Cancelling the task answers both waiters; their places are free again.
      expect((await as(reader.secret, 'POST', `/v1/tasks/${taskId}/cancel`)).status).toBe(200);
      const answered = await Promise.all(polls);
      expect(answered.map((r) => [r.status, r.body.status])).toEqual([
        [200, 'cancelled'],
        [200, 'cancelled'],
      ]);
      expect(await waiters()).toBe(0);
      expect((await as(reader.secret, 'GET', `/v1/tasks/${taskId}?wait=1`)).status).toBe(200);
    });

    it.each([
      ['abc', /wait must be a number/],
      ['1e3', /wait must be a number/],
      ['0x10', /wait must be a number/],
      ['-5', /wait must not be negative/],
    ])('wait=%s is a 400 that says why', async (wait, reason) => {
      const res = await as(reader.secret, 'GET', `/v1/tasks/${taskId}?wait=${wait}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(reason);
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'wait' })]);
    });
  });
});
