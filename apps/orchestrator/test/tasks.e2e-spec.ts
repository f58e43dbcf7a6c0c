import Redis from 'ioredis';
import { Pool } from 'pg';
import { countRows, createPersona, succeedTask, testPool } from '../../../test/support/db';
import { request, type JsonResponse } from '../../../test/support/http';
import { TaskQueueService } from '../src/tasks/task-queue.service';
import { testConfig } from '../../../test/support/test-env';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';

describe('tasks API (orchestrator, real Postgres + Redis, no worker)', () => {
  let api: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    api = await startOrchestrator();
    pool = testPool();
    persona = await createPersona(pool, 'tasks');
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  const create = (body: unknown, headers: Record<string, string> = {}) =>
    request(api.url, 'POST', '/v1/tasks', { body, headers });

  describe('POST /v1/tasks', () => {
    it('stores the task, queues a job with the task id, and answers 202 with a Location', async () => {
      const res = await create({
        persona_id: persona,
        task_type: 'generate_post',
        pain_statement: 'Deploys take 40 minutes',
        extras: { audience: 'CTOs', urgent: true },
      });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({
        persona_id: persona,
        task_type: 'generate_post',
        status: 'queued',
        attempts: 0,
        input: { pain_statement: 'Deploys take 40 minutes', extras: { audience: 'CTOs', urgent: true } },
        post: null,
      });
      expect(res.headers.get('location')).toBe(`/v1/tasks/${res.body.id}`);
      expect(res.body.request_id).toBe(res.headers.get('x-request-id'));

      const { rows } = await pool.query('SELECT status, persona_id FROM tasks WHERE id = $1', [res.body.id]);
      expect(rows).toEqual([{ status: 'queued', persona_id: persona }]);
      // The job is added right after the response, not before it.
      await api.app.get(TaskQueueService).settled();
      const queue = api.app.get<import('bull').Queue>('BullQueue_agent-tasks');
      const job = await queue.getJob(res.body.id);
      expect(job?.data).toEqual({ taskId: res.body.id, requestId: res.body.request_id });
    });

    it('a job added after the 202 is in Redis before the app has finished closing', async () => {
      const prefix = `test-close-${Date.now()}`;
      const closing = await startOrchestrator({ QUEUE_PREFIX: prefix });
      const redis = new Redis(testConfig().REDIS_URL);
      try {
        const res = await request(closing.url, 'POST', '/v1/tasks', {
          body: { persona_id: persona, task_type: 'generate_post', topic: 'closing' },
        });
        expect(res.status).toBe(202);
        await closing.close();
        expect(await redis.hget(`${prefix}:agent-tasks:${res.body.id}`, 'data')).toBe(
          JSON.stringify({ taskId: res.body.id, requestId: res.body.request_id }),
        );
      } finally {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
    });

    it('keeps a well-formed X-Request-ID from the caller and stores it on the task', async () => {
      const res = await create(
        { persona_id: persona, task_type: 'generate_post', topic: 't' },
        { 'x-request-id': 'trace-abc-123' },
      );
      expect(res.status).toBe(202);
      expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
      const { rows } = await pool.query('SELECT request_id FROM tasks WHERE id = $1', [res.body.id]);
      expect(rows[0].request_id).toBe('trace-abc-123');
    });

    it.each([
      ['a missing persona_id', { task_type: 'generate_post', topic: 'x' }, 'persona_id'],
      ['a non-string persona_id', { persona_id: 42, task_type: 'generate_post', topic: 'x' }, 'persona_id'],
      [
        'an unknown task_type',
        { persona_id: 'founder-voice', task_type: 'delete_everything', topic: 'x' },
        'task_type',
      ],
      [
        'an unknown field',
        { persona_id: 'founder-voice', task_type: 'generate_post', topic: 'x', admin: true },
        'admin',
      ],
      ['no input at all', { persona_id: 'founder-voice', task_type: 'generate_post' }, 'pain_statement'],
      ['a blank topic', { persona_id: 'founder-voice', task_type: 'generate_post', topic: '   ' }, 'topic'],
      [
        'a topic too long',
        { persona_id: 'founder-voice', task_type: 'generate_post', topic: 'x'.repeat(301) },
        'topic',
      ],
      [
        'nested extras',
        { persona_id: 'founder-voice', task_type: 'generate_post', topic: 'x', extras: { a: { b: 1 } } },
        'extras',
      ],
      [
        'a non-http callback_url',
        {
          persona_id: 'founder-voice',
          task_type: 'generate_post',
          topic: 'x',
          callback_url: 'file:///etc/passwd',
        },
        'callback_url',
      ],
      [
        'an injection-looking persona_id',
        { persona_id: "x'; DROP TABLE tasks;--", task_type: 'generate_post', topic: 'x' },
        'persona_id',
      ],
    ])('rejects %s with 400 naming the field, writing nothing', async (_name, body, field) => {
      const before = await countRows(pool, 'tasks');
      const res = await create(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toContain(field);
      expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(await countRows(pool, 'tasks')).toBe(before);
    });

    it.each([
      ['malformed JSON', '{"persona_id":', 'application/json', 400, /JSON/],
      ['an array body', '[1,2]', 'application/json', 400, /JSON object/],
      ['a null body', 'null', 'application/json', 400, /JSON object/],
      ['an empty JSON body', '', 'application/json', 400, /empty/i],
      ['a text/plain body', 'hello', 'text/plain', 415, /content-type/i],
    ])('rejects %s with %s, never a 5xx', async (_name, rawBody, type, status, message) => {
      const before = await countRows(pool, 'tasks');
      const res = await request(api.url, 'POST', '/v1/tasks', { rawBody, headers: { 'content-type': type } });
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ statusCode: status });
      expect(res.body.message).toMatch(message);
      expect(await countRows(pool, 'tasks')).toBe(before);
    });

    it('rejects a body over BODY_LIMIT_BYTES with 413', async () => {
      const before = await countRows(pool, 'tasks');
      const res = await create({
        persona_id: persona,
        task_type: 'generate_post',
        topic: 'x',
        extras: { pad: 'y'.repeat(500) },
        junk: 'z'.repeat(70_000),
      });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(await countRows(pool, 'tasks')).toBe(before);
    });

    it('answers 422 for an unknown persona, writing nothing', async () => {
      const before = await countRows(pool, 'tasks');
      const res = await create({ persona_id: 'no-such-persona', task_type: 'generate_post', topic: 'x' });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain('no-such-persona');
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'persona_id' })]);
      expect(await countRows(pool, 'tasks')).toBe(before);
    });

    it('answers 422 for an archived persona', async () => {
      const archived = await createPersona(pool, 'archived');
      await pool.query('UPDATE personas SET archived_at = now() WHERE id = $1', [archived]);
      const res = await create({ persona_id: archived, task_type: 'generate_post', topic: 'x' });
      expect(res.status).toBe(422);
      expect(await countRows(pool, 'tasks', 'persona_id = $1', [archived])).toBe(0);
    });
  });

  it('answers 503 with Retry-After, fast, when the database pool is exhausted', async () => {
    // DB_POOL_MAX 2: one connection for TypeORM's pool, one for the SQL pool the task statements use.
    const starved = await startOrchestrator({ DB_POOL_MAX: '2', DB_POOL_ACQUIRE_TIMEOUT_MS: '200' });
    try {
      const sqlPool = starved.app.get(Pool);
      expect(sqlPool.options.max).toBe(1);
      const holder = sqlPool.query('SELECT pg_sleep(1.5)');
      const before = await countRows(pool, 'tasks');
      const res = await request(starved.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'starved' },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'A dependency is unavailable or saturated; retry shortly',
      });
      expect(res.ms).toBeLessThan(1000);
      await holder;
      expect(await countRows(pool, 'tasks')).toBe(before);
    } finally {
      await starved.close();
    }
  });

  it('concurrent creates share an INSERT but keep their own outcomes (valid, unknown persona, archived persona)', async () => {
    const archived = await createPersona(pool, 'batch-archived');
    await pool.query('UPDATE personas SET archived_at = now() WHERE id = $1', [archived]);
    const personas = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? persona : i % 3 === 1 ? 'no-such-persona' : archived,
    );
    const before = await countRows(pool, 'tasks');
    const results = await Promise.all(
      personas.map((p, i) => create({ persona_id: p, task_type: 'generate_post', topic: `batch ${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(personas.map((p) => (p === persona ? 202 : 422)));
    const created = results.filter((r) => r.status === 202);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(10);
    // Each caller got its own row back, not a neighbour's from the same statement.
    results.forEach((r, i) => {
      if (r.status === 202) expect(r.body.input.topic).toBe(`batch ${i}`);
    });
    expect(await countRows(pool, 'tasks')).toBe(before + 10);
  });

  describe('Idempotency-Key', () => {
    const body = () => ({ persona_id: persona, task_type: 'generate_post', topic: 'idempotent' });

    it('returns the original task (200) for the same key and body, creating nothing new', async () => {
      const key = `key-${Date.now()}`;
      const first = await create(body(), { 'idempotency-key': key });
      expect(first.status).toBe(202);
      const second = await create(body(), { 'idempotency-key': key });
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
      expect(second.headers.get('location')).toBe(`/v1/tasks/${first.body.id}`);
      expect(await countRows(pool, 'tasks', 'idempotency_key = $1', [key])).toBe(1);
    });

    it('replays a succeeded task with its post, exactly as GET shows it', async () => {
      const key = `key-done-${Date.now()}`;
      const first = await create(body(), { 'idempotency-key': key });
      expect(first.status).toBe(202);
      const postId = await succeedTask(pool, first.body.id);

      const replay = await create(body(), { 'idempotency-key': key });
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ id: first.body.id, status: 'succeeded', post: { id: postId } });
      const got = await request(api.url, 'GET', `/v1/tasks/${first.body.id}`);
      expect(replay.body).toEqual(got.body);
    });

    it('answers 422 when the key is reused with a different body', async () => {
      const key = `key-diff-${Date.now()}`;
      const first = await create(body(), { 'idempotency-key': key });
      const second = await create({ ...body(), topic: 'something else' }, { 'idempotency-key': key });
      expect(second.status).toBe(422);
      expect(second.body.message).toContain(key);
      expect(second.body.message).toContain(first.body.id);
      expect(await countRows(pool, 'tasks', 'idempotency_key = $1', [key])).toBe(1);
    });

    it('treats key order in the body as the same request', async () => {
      const key = `key-order-${Date.now()}`;
      const first = await create(
        { persona_id: persona, task_type: 'generate_post', topic: 'a', extras: { x: 1, y: 2 } },
        { 'idempotency-key': key },
      );
      const second = await create(
        { extras: { y: 2, x: 1 }, topic: 'a', task_type: 'generate_post', persona_id: persona },
        { 'idempotency-key': key },
      );
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
    });

    it('creates exactly one task when the same key races', async () => {
      const key = `key-race-${Date.now()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => create(body(), { 'idempotency-key': key })),
      );
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(results.filter((r) => r.status === 202)).toHaveLength(1);
      expect(results.filter((r) => r.status === 200)).toHaveLength(7);
      expect(await countRows(pool, 'tasks', 'idempotency_key = $1', [key])).toBe(1);
    });

    it('rejects a malformed key with 400', async () => {
      const res = await create(body(), { 'idempotency-key': 'has spaces in it' });
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    });
  });

  describe('GET /v1/tasks/:id', () => {
    it('returns the task', async () => {
      const created = await create({
        persona_id: persona,
        task_type: 'generate_thread',
        trend_snippet: 'trend',
      });
      const res = await request(api.url, 'GET', `/v1/tasks/${created.body.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: created.body.id,
        status: 'queued',
        task_type: 'generate_thread',
        post: null,
      });
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const missing = await request(api.url, 'GET', '/v1/tasks/00000000-0000-7000-8000-000000000000');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'Task 00000000-0000-7000-8000-000000000000 not found',
      });
      const bad = await request(api.url, 'GET', '/v1/tasks/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.body.details).toEqual([{ field: 'id', reason: 'id must be a UUID' }]);
    });

    it('long-polls: ?wait=1 returns the still-queued task after about a second', async () => {
      const created = await create({ persona_id: persona, task_type: 'generate_post', topic: 'slow' });
      const res = await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=1`);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('queued');
      expect(res.ms).toBeGreaterThanOrEqual(900);
      expect(res.ms).toBeLessThan(3000);
    });

    it('long-poll wakes up as soon as the task is cancelled', async () => {
      const created = await create({ persona_id: persona, task_type: 'generate_post', topic: 'wake' });
      const waiting = request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=20`);
      await new Promise((r) => setTimeout(r, 300));
      await request(api.url, 'POST', `/v1/tasks/${created.body.id}/cancel`);
      const res = await waiting;
      expect(res.body.status).toBe('cancelled');
      expect(res.ms).toBeLessThan(5000);
    });

    it('rejects a negative or non-numeric wait', async () => {
      const created = await create({ persona_id: persona, task_type: 'generate_post', topic: 'x' });
      for (const wait of ['-1', 'soon', '1.5']) {
        const res = await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=${wait}`);
        expect(res.status).toBe(400);
        expect(res.body.details[0].field).toBe('wait');
      }
    });
  });

  describe('GET /v1/tasks (filters and cursor pagination)', () => {
    let listPersona: string;
    const ids: string[] = [];

    beforeAll(async () => {
      listPersona = await createPersona(pool, 'list');
      for (let i = 0; i < 5; i++) {
        const res = await create({ persona_id: listPersona, task_type: 'generate_post', topic: `t${i}` });
        ids.unshift(res.body.id); // newest first
      }
    });

    it('pages through every task exactly once, newest first', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: JsonResponse = await request(
          api.url,
          'GET',
          `/v1/tasks?persona_id=${listPersona}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data.map((t: { id: string }) => t.id));
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(ids);
    });

    it('filters by status and creation time', async () => {
      await pool.query(`UPDATE tasks SET status = 'failed' WHERE id = $1`, [ids[0]]);
      const failed = await request(api.url, 'GET', `/v1/tasks?persona_id=${listPersona}&status=failed`);
      expect(failed.body.data.map((t: { id: string }) => t.id)).toEqual([ids[0]]);

      const future = new Date(Date.now() + 60_000).toISOString();
      const none = await request(
        api.url,
        'GET',
        `/v1/tasks?persona_id=${listPersona}&created_after=${future}`,
      );
      expect(none.body).toEqual({ data: [], next_cursor: null });
      const before = await request(
        api.url,
        'GET',
        `/v1/tasks?persona_id=${listPersona}&created_before=${future}&limit=100`,
      );
      expect(before.body.data).toHaveLength(5);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['status=done', 'status'],
      ['created_after=yesterday', 'created_after'],
      ['cursor=%21%21%21', 'cursor'],
      ['persona_id=BAD%20ID', 'persona_id'],
      ['unknown=1', 'unknown'],
    ])('rejects ?%s with 400 naming %s', async (qs, field) => {
      const res = await request(api.url, 'GET', `/v1/tasks?${qs}`);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });
  });

  describe('cancel and retry', () => {
    it('cancels a queued task and removes its job; a second cancel is a 409', async () => {
      const created = await create({ persona_id: persona, task_type: 'generate_post', topic: 'cancel me' });
      const res = await request(api.url, 'POST', `/v1/tasks/${created.body.id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('cancelled');
      expect(res.body.finished_at).not.toBeNull();
      const queue = api.app.get<import('bull').Queue>('BullQueue_agent-tasks');
      expect(await queue.getJob(created.body.id)).toBeNull();

      const again = await request(api.url, 'POST', `/v1/tasks/${created.body.id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.message).toContain('cancelled');
    });

    it('answers 404 when cancelling or retrying an unknown task', async () => {
      for (const action of ['cancel', 'retry']) {
        const res: JsonResponse = await request(
          api.url,
          'POST',
          `/v1/tasks/00000000-0000-7000-8000-000000000001/${action}`,
        );
        expect(res.status).toBe(404);
      }
    });

    it('retries a failed task: its failed job is replaced by a fresh waiting one', async () => {
      // An orchestrator on its own, empty queue, so the test can take "its" job like a worker would.
      const isolated = await startOrchestrator({ QUEUE_PREFIX: `test-retry-${Date.now()}` });
      try {
        const created = await request(isolated.url, 'POST', '/v1/tasks', {
          body: { persona_id: persona, task_type: 'generate_post', topic: 'retry me' },
        });
        await isolated.app.get(TaskQueueService).settled();
        const queue = isolated.app.get<import('bull').Queue>('BullQueue_agent-tasks');
        const job = await queue.getNextJob();
        expect(job?.id).toBe(created.body.id);
        void job!.discard();
        await job!.moveToFailed({ message: 'boom' }, true);
        await job!.releaseLock();
        expect(await job!.getState()).toBe('failed');
        await pool.query(
          `UPDATE tasks SET status = 'failed', last_error = 'boom', finished_at = now() WHERE id = $1`,
          [created.body.id],
        );

        const res = await request(isolated.url, 'POST', `/v1/tasks/${created.body.id}/retry`);
        expect(res.status).toBe(202);
        expect(res.body).toMatchObject({ status: 'queued', last_error: null, finished_at: null });
        const fresh = await queue.getJob(created.body.id);
        expect(await fresh!.getState()).toBe('waiting');
        expect(fresh!.attemptsMade).toBe(0);
        await queue.obliterate({ force: true });
      } finally {
        await isolated.close();
      }
    });

    it('refuses to retry a task that is not failed (409)', async () => {
      const created = await create({ persona_id: persona, task_type: 'generate_post', topic: 'not failed' });
      const res = await request(api.url, 'POST', `/v1/tasks/${created.body.id}/retry`);
      expect(res.status).toBe(409);
      expect(res.body.message).toContain('queued');
    });
  });
});
