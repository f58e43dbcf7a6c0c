import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { ALL_API_SCOPES, apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { countRows, createPersona, succeedTask, testPool } from '../../../test/support/db';
import { eventually, request, type JsonResponse } from '../../../test/support/http';

const ALL = ALL_API_SCOPES;

describe('tenants: each blind to the other on every route', () => {
  const root = testKey('tenants-root', [...ALL, 'admin']);
  let api: RunningApp;
  let pool: Pool;
  let globalPersona: string;
  const keys: Record<'a' | 'b', string> = { a: '', b: '' };
  const tenantOf = { a: `ten-a-${process.pid}`, b: `ten-b-${process.pid}` };

  beforeAll(async () => {
    api = await startOrchestrator({ API_KEYS: apiKeysEnv([root]) });
    pool = testPool();
    globalPersona = await createPersona(pool, 'tenants-global');
    for (const t of ['a', 'b'] as const) {
      const res = await as(root.secret, 'POST', '/v1/admin/api-keys', {
        tenant: tenantOf[t],
        name: `key-${t}`,
        tier: 'default',
        scopes: ALL,
      });
      expect(res.status).toBe(201);
      keys[t] = res.body.key;
    }
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  function as(
    secret: string,
    method: string,
    path: string,
    body?: unknown,
    headers = {},
  ): Promise<JsonResponse> {
    return request(api.url, method, path, { body, headers: { 'x-api-key': secret, ...headers } });
  }
  const createTask = async (t: 'a' | 'b', persona = globalPersona, headers = {}) =>
    as(
      keys[t],
      'POST',
      '/v1/tasks',
      { persona_id: persona, task_type: 'generate_post', topic: `of ${t}` },
      headers,
    );

  /** The answer for an id that exists nowhere, to compare another tenant's id with. */
  const notFoundLike = (res: JsonResponse, id: string, what: string) => {
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: `${what} ${id} not found` });
  };

  it("tasks: another tenant's task is a 404 on get, long-poll, event stream, cancel and retry, and missing from its list", async () => {
    const created = await createTask('a');
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect((await pool.query('SELECT tenant FROM tasks WHERE id = $1', [id])).rows).toEqual([
      { tenant: tenantOf.a },
    ]);

    notFoundLike(await as(keys.b, 'GET', `/v1/tasks/${id}`), id, 'Task');
    const poll = await as(keys.b, 'GET', `/v1/tasks/${id}?wait=1`);
    notFoundLike(poll, id, 'Task');
    expect(poll.ms).toBeLessThan(900); // refused at once, not after waiting
    notFoundLike(await as(keys.b, 'GET', `/v1/tasks/${id}/events`), id, 'Task');
    notFoundLike(await as(keys.b, 'POST', `/v1/tasks/${id}/cancel`), id, 'Task');
    await pool.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [id]);
    notFoundLike(await as(keys.b, 'POST', `/v1/tasks/${id}/cancel`), id, 'Task');
    expect((await pool.query('SELECT status FROM tasks WHERE id = $1', [id])).rows[0].status).toBe('running');
    await pool.query(`UPDATE tasks SET status = 'failed', last_error = 'x' WHERE id = $1`, [id]);
    notFoundLike(await as(keys.b, 'POST', `/v1/tasks/${id}/retry`), id, 'Task');
    expect((await pool.query('SELECT status FROM tasks WHERE id = $1', [id])).rows[0].status).toBe('failed');

    const listB = await as(keys.b, 'GET', '/v1/tasks?limit=100');
    expect(listB.status).toBe(200);
    expect(listB.body.data.map((t: { id: string }) => t.id)).not.toContain(id);
    const listA = await as(keys.a, 'GET', '/v1/tasks?limit=100');
    expect(listA.body.data.map((t: { id: string }) => t.id)).toContain(id);
    expect((await as(keys.a, 'GET', `/v1/tasks/${id}`)).status).toBe(200);
    expect((await as(keys.a, 'POST', `/v1/tasks/${id}/retry`)).status).toBe(202);
  });

  it('a tenant may not pick another tenant with ?tenant=; only admin keys may', async () => {
    const res = await as(keys.b, 'GET', `/v1/tasks?tenant=${tenantOf.a}`);
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('Only a key with the admin scope may choose another tenant');
    expect((await as(keys.b, 'GET', `/v1/tasks?tenant=${tenantOf.b}`)).status).toBe(200);
  });

  it("admin sees every tenant's tasks, and ?tenant= narrows it to one", async () => {
    const a = (await createTask('a')).body.id;
    const b = (await createTask('b')).body.id;
    const all = await as(root.secret, 'GET', '/v1/tasks?limit=100');
    expect(all.body.data.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([a, b]));
    const onlyA = await as(root.secret, 'GET', `/v1/tasks?limit=100&tenant=${tenantOf.a}`);
    const ids = onlyA.body.data.map((t: { id: string }) => t.id);
    expect(ids).toContain(a);
    expect(ids).not.toContain(b);
    expect((await as(root.secret, 'GET', `/v1/tasks/${b}`)).status).toBe(200);
  });

  it('idempotency keys are per tenant: the same key in two tenants makes two tasks', async () => {
    const headers = { 'idempotency-key': `same-${process.pid}-${Date.now()}` };
    const a1 = await createTask('a', globalPersona, headers);
    const b1 = await createTask('b', globalPersona, headers);
    const a2 = await createTask('a', globalPersona, headers);
    expect([a1.status, b1.status, a2.status]).toEqual([202, 202, 200]);
    expect(b1.body.id).not.toBe(a1.body.id);
    expect(a2.body.id).toBe(a1.body.id);
  });

  it("posts: another tenant's post is a 404 and missing from its list", async () => {
    const task = (await createTask('a')).body.id;
    const post = await succeedTask(pool, task);
    expect((await pool.query('SELECT tenant FROM posts WHERE id = $1', [post])).rows[0].tenant).toBe(
      tenantOf.a,
    );
    notFoundLike(await as(keys.b, 'GET', `/v1/posts/${post}`), post, 'Post');
    const listB = await as(keys.b, 'GET', '/v1/posts?limit=100');
    expect(listB.body.data.map((p: { id: string }) => p.id)).not.toContain(post);
    expect((await as(keys.a, 'GET', `/v1/posts/${post}`)).status).toBe(200);
    // The task's own answer carries the post for its tenant only.
    expect((await as(keys.a, 'GET', `/v1/tasks/${task}`)).body.post.id).toBe(post);
  });

  it("usage: a tenant's own tasks by status and tokens by model; admin may ask for any tenant", async () => {
    const tenant = `usage-${process.pid}-${Date.now().toString(36)}`;
    const minted = await as(root.secret, 'POST', '/v1/admin/api-keys', {
      tenant,
      name: 'usage-key',
      tier: 'default',
      scopes: ['tasks:read', 'tasks:write'],
    });
    const key = minted.body.key as string;
    const submit = () =>
      as(key, 'POST', '/v1/tasks', { persona_id: globalPersona, task_type: 'generate_post', topic: 'usage' });
    const done = (await submit()).body.id;
    await submit();
    const cancelled = (await submit()).body.id;
    await succeedTask(pool, done);
    expect((await as(key, 'POST', `/v1/tasks/${cancelled}/cancel`)).status).toBe(200);

    const own = await as(key, 'GET', '/v1/usage');
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      tenant,
      tasks: { queued: 1, running: 0, succeeded: 1, failed: 0, cancelled: 1, total: 3 },
      tokens: {
        total: 42,
        by_model: [{ model: 'test-model', tasks: 1, prompt_tokens: 30, completion_tokens: 12, tokens: 42 }],
      },
    });
    expect(Date.parse(own.body.to) - Date.parse(own.body.from)).toBe(30 * 86_400_000);

    const asAdmin = await as(root.secret, 'GET', `/v1/usage?tenant=${tenant}`);
    expect(asAdmin.body.tasks).toEqual(own.body.tasks);
    const other = await as(keys.b, 'GET', '/v1/usage');
    expect(other.body.tenant).toBe(tenantOf.b);
    expect((await as(keys.b, 'GET', `/v1/usage?tenant=${tenant}`)).status).toBe(403);

    const past = await as(key, 'GET', '/v1/usage?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z');
    expect(past.body.tasks.total).toBe(0);
    expect(past.body.tokens).toEqual({ total: 0, by_model: [] });
    const backwards = await as(key, 'GET', '/v1/usage?from=2020-02-01T00:00:00Z&to=2020-01-01T00:00:00Z');
    expect(backwards.status).toBe(400);
    expect(backwards.body.message).toBe('Validation failed: from must be before to');
  });

  it("personas: global ones are shared and read-only; a tenant's own are invisible to the other", async () => {
    const id = `own-${process.pid}-${Date.now().toString(36)}`;
    const body = { id, name: 'Own', system_prompt: 'p', model: 'm', temperature: 0.5, max_tokens: 100 };
    const created = await as(keys.a, 'POST', '/v1/personas', body);
    expect(created.status).toBe(201);
    expect(created.body.tenant).toBe(tenantOf.a);

    notFoundLike(await as(keys.b, 'GET', `/v1/personas/${id}`), id, 'Persona');
    notFoundLike(await as(keys.b, 'PATCH', `/v1/personas/${id}`, { name: 'Taken over' }), id, 'Persona');
    notFoundLike(await as(keys.b, 'DELETE', `/v1/personas/${id}`), id, 'Persona');
    const listB = await as(keys.b, 'GET', '/v1/personas?limit=100');
    const idsB = listB.body.data.map((p: { id: string }) => p.id);
    expect(idsB).not.toContain(id);
    expect(idsB).toContain(globalPersona);

    // Tenant b cannot run a task on tenant a's persona: the same 422 as an unknown persona.
    const before = await countRows(pool, 'tasks');
    const refused = await createTask('b', id);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(`Persona ${id} does not exist or is archived`);
    expect(await countRows(pool, 'tasks')).toBe(before);
    expect((await createTask('a', id)).status).toBe(202);

    const patched = await as(keys.a, 'PATCH', `/v1/personas/${id}`, { name: 'Renamed' });
    expect(patched.status).toBe(200);
    expect(patched.body.name).toBe('Renamed');

    const global = await as(keys.a, 'PATCH', `/v1/personas/${globalPersona}`, { name: 'Mine now' });
    expect(global.status).toBe(403);
    expect(global.body.message).toContain('global and read-only');
    expect((await as(keys.a, 'DELETE', `/v1/personas/${globalPersona}`)).status).toBe(403);
    const { rows } = await pool.query('SELECT name, archived_at FROM personas WHERE id = $1', [
      globalPersona,
    ]);
    expect(rows[0]).toEqual({ name: `Test ${globalPersona}`, archived_at: null });
  });
});

describe('TENANT_MAX_ACTIVE_TASKS', () => {
  const a = testKey('quota-a', ALL);
  const b = testKey('quota-b', ALL);
  let api: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    api = await startOrchestrator({
      API_KEYS: apiKeysEnv([a, b]),
      TENANT_MAX_ACTIVE_TASKS: '2',
      TENANT_QUOTA_REFRESH_MS: '100',
    });
    pool = testPool();
    persona = await createPersona(pool, 'quota');
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  const create = (secret: string) =>
    request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'quota' },
      headers: { 'x-api-key': secret },
    });

  it('refuses a tenant at its cap with 429 and writes nothing; other tenants are unaffected; room comes back', async () => {
    const first = await create(a.secret);
    const second = await create(a.secret);
    expect([first.status, second.status]).toEqual([202, 202]);

    const before = await countRows(pool, 'tasks');
    const refused = await create(a.secret);
    expect(refused.status).toBe(429);
    expect(refused.body.message).toBe(
      'Tenant quota-a has 2 active tasks (queued or running), the most TENANT_MAX_ACTIVE_TASKS allows (2); submit more once some finish',
    );
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await countRows(pool, 'tasks')).toBe(before);

    expect((await create(b.secret)).status).toBe(202);

    const cancelled = await request(api.url, 'POST', `/v1/tasks/${first.body.id}/cancel`, {
      headers: { 'x-api-key': a.secret },
    });
    expect(cancelled.status).toBe(200);
    const again = await eventually(async () => {
      const res = await create(a.secret);
      return res.status === 202 ? res : undefined;
    }, 5000);
    expect(again.body.status).toBe('queued');
    expect((await create(a.secret)).status).toBe(429);
  });
});
