import { ConfigError } from '@app/platform';
import type { Pool } from 'pg';
import { createOrchestratorApp } from '../src/bootstrap';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { ALL_API_SCOPES, apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { spawnOrchestrator } from '../../../test/support/child-app';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';
import { testConfig } from '../../../test/support/test-env';

const UNKNOWN_TASK = '00000000-0000-7000-8000-0000000000aa';
const UNKNOWN_POST = '00000000-0000-7000-8000-0000000000bb';

describe('API keys: authentication and scopes', () => {
  const writer = testKey('writer', ['tasks:write', 'tasks:read']);
  const reader = testKey('reader', ['tasks:read', 'personas:read']);
  const personaAdmin = testKey('persona-admin', ['personas:admin', 'personas:read']);
  const operator = testKey('operator', ['admin']);
  let api: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    api = await startOrchestrator({ API_KEYS: apiKeysEnv([writer, reader, personaAdmin, operator]) });
    pool = testPool();
    persona = await createPersona(pool, 'auth');
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  const taskBody = () => ({ persona_id: persona, task_type: 'generate_post', topic: 'auth' });
  const as = (secret: string | undefined, method: string, path: string, body?: unknown) =>
    request(api.url, method, path, { body, headers: secret === undefined ? {} : { 'x-api-key': secret } });

  it('answers 401 without a key, naming the header, and writes nothing', async () => {
    const before = await countRows(pool, 'tasks');
    const res = await as(undefined, 'POST', '/v1/tasks', taskBody());
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Missing API key: send it in the X-API-Key header',
    });
    expect(await countRows(pool, 'tasks')).toBe(before);
  });

  it('answers 401 for an unknown key, an empty key and a near miss', async () => {
    for (const secret of ['nope', '', `${writer.secret}x`, writer.secret.slice(0, -1)]) {
      const res = await as(secret, 'GET', '/v1/tasks');
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/^(Invalid API key|Missing API key)/);
    }
  });

  it('answers 403 naming the missing scope when the key lacks it, and writes nothing', async () => {
    const before = await countRows(pool, 'tasks');
    const res = await as(reader.secret, 'POST', '/v1/tasks', taskBody());
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'API key "reader" lacks the scope tasks:write that this route needs',
    });
    expect(await countRows(pool, 'tasks')).toBe(before);
  });

  it('lets a key with the right scope through and scopes its idempotency keys to its name', async () => {
    const res = await as(writer.secret, 'POST', '/v1/tasks', taskBody());
    expect(res.status).toBe(202);
    const { rows } = await pool.query('SELECT client_id FROM tasks WHERE id = $1', [res.body.id]);
    expect(rows[0].client_id).toBe('writer');
  });

  // Every /v1 route with the scope it needs. A key holding every other scope must get 403; a key
  // holding this one must not get 401/403 (404/409/400 are fine: the request was let in).
  // Always four entries: jest takes a missing trailing argument for a `done` callback.
  const routes: [string, string, string, unknown][] = [
    [
      'POST',
      '/v1/tasks',
      'tasks:write',
      { persona_id: 'founder-voice', task_type: 'generate_post', topic: 'x' },
    ],
    ['GET', '/v1/tasks', 'tasks:read', undefined],
    ['GET', `/v1/tasks/${UNKNOWN_TASK}`, 'tasks:read', undefined],
    ['POST', `/v1/tasks/${UNKNOWN_TASK}/cancel`, 'tasks:write', undefined],
    ['POST', `/v1/tasks/${UNKNOWN_TASK}/retry`, 'tasks:write', undefined],
    ['GET', '/v1/posts', 'tasks:read', undefined],
    ['GET', `/v1/posts/${UNKNOWN_POST}`, 'tasks:read', undefined],
    ['GET', '/v1/personas', 'personas:read', undefined],
    ['GET', '/v1/personas/no-such-persona', 'personas:read', undefined],
    ['POST', '/v1/personas', 'personas:admin', { id: 'x' }],
    ['PATCH', '/v1/personas/no-such-persona', 'personas:admin', { name: 'x' }],
    ['DELETE', '/v1/personas/no-such-persona', 'personas:admin', undefined],
  ];

  it.each(routes)('%s %s needs %s', async (method, path, scope, body) => {
    const without = testKey('without', ALL_API_SCOPES.filter((s) => s !== scope).concat('admin'));
    const withScope = testKey('with', [scope]);
    const app = await startOrchestrator({ API_KEYS: apiKeysEnv([without, withScope]) });
    try {
      const denied = await request(app.url, method, path, { body, headers: { 'x-api-key': without.secret } });
      expect(denied.status).toBe(403);
      expect(denied.body.message).toContain(scope);
      const allowed = await request(app.url, method, path, {
        body,
        headers: { 'x-api-key': withScope.secret },
      });
      expect([401, 403]).not.toContain(allowed.status);
      expect(allowed.status).toBeLessThan(500);
    } finally {
      await app.close();
    }
  });

  it('keeps health, metrics and docs open without a key', async () => {
    for (const path of ['/health/live', '/health/ready', '/metrics', '/docs-json']) {
      const res = await as(undefined, 'GET', path);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });

  it('documents the X-API-Key scheme and the 401/403 answers in OpenAPI', async () => {
    const doc = (await as(undefined, 'GET', '/docs-json')).body;
    expect(doc.components.securitySchemes['api-key']).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    });
    expect(doc.paths['/v1/tasks'].post.security).toEqual([{ 'api-key': [] }]);
    expect(Object.keys(doc.paths['/v1/tasks'].post.responses)).toEqual(
      expect.arrayContaining(['401', '403']),
    );
  });

  it('puts the queue dashboard behind the admin scope', async () => {
    expect((await as(undefined, 'GET', '/admin/queues')).status).toBe(401);
    const forbidden = await as(writer.secret, 'GET', '/admin/queues');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.message).toContain('admin');
    const page = await as(operator.secret, 'GET', '/admin/queues');
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('agent-platform queues');
    const queues = await as(operator.secret, 'GET', '/admin/queues/api/queues');
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: { name: string }) => q.name)).toContain('agent-tasks');
    expect((await as(undefined, 'GET', '/admin/queues/api/queues')).status).toBe(401);
  });

  it('lets a browser in with HTTP Basic auth, the API key as password (a 401 asks for it)', async () => {
    const basic = (password: string) => ({
      authorization: `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`,
    });
    const challenge = await request(api.url, 'GET', '/admin/queues');
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Basic realm="agent-platform queues/);

    const page = await request(api.url, 'GET', '/admin/queues', { headers: basic(operator.secret) });
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('agent-platform queues');
    const queues = await request(api.url, 'GET', '/admin/queues/api/queues', {
      headers: basic(operator.secret),
    });
    expect(queues.status).toBe(200);

    const forbidden = await request(api.url, 'GET', '/admin/queues', { headers: basic(writer.secret) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toBeNull();
    const wrong = await request(api.url, 'GET', '/admin/queues', { headers: basic('not-a-key') });
    expect(wrong.status).toBe(401);
    // Basic credentials open the dashboard only, never the API.
    expect((await request(api.url, 'GET', '/v1/tasks', { headers: basic(operator.secret) })).status).toBe(
      401,
    );
  });
});

describe('auth configuration', () => {
  it('refuses to build the orchestrator in production without API_KEYS, naming the variable', async () => {
    const attempt = createOrchestratorApp(testConfig({ NODE_ENV: 'production' }));
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/API_KEYS: must list at least one key when NODE_ENV=production/);
  });

  it('refuses a key whose tier is not in RATE_LIMIT_TIERS', async () => {
    const key = testKey('lost', ['tasks:read'], 'platinum');
    await expect(createOrchestratorApp(testConfig({ API_KEYS: apiKeysEnv([key]) }))).rejects.toThrow(
      /API_KEYS\.0\.tier: "platinum" is not a tier of RATE_LIMIT_TIERS/,
    );
  });

  it('in development without keys, /v1 and the dashboard are open (auth off)', async () => {
    const app = await startOrchestrator({ NODE_ENV: 'development' });
    try {
      expect((await request(app.url, 'GET', '/v1/tasks?limit=1')).status).toBe(200);
      expect((await request(app.url, 'GET', '/admin/queues/api/queues')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('never writes an API key to the logs, whatever the outcome of the request', async () => {
    const good = testKey('logged-client', ['tasks:read']);
    const wrongScope = testKey('scoped-client', ['personas:read']);
    const unknownSecret = `ak_unknown_${Date.now()}_secret`;
    const child = await spawnOrchestrator({
      API_KEYS: apiKeysEnv([good, wrongScope]),
      LOG_LEVEL: 'trace',
      LOG_REQUESTS: 'true',
    });
    try {
      const send = (secret: string, path: string) =>
        request(child.url, 'GET', path, { headers: { 'x-api-key': secret } });
      expect((await send(good.secret, '/v1/tasks?limit=1')).status).toBe(200);
      expect((await send(good.secret, '/v1/tasks?limit=zero')).status).toBe(400);
      expect((await send(good.secret, `/v1/tasks/${UNKNOWN_TASK}`)).status).toBe(404);
      expect((await send(wrongScope.secret, '/v1/tasks')).status).toBe(403);
      expect((await send(unknownSecret, '/v1/tasks')).status).toBe(401);
      expect((await send(good.secret, '/admin/queues')).status).toBe(403);
      await new Promise((r) => setTimeout(r, 300)); // let the child flush its stdout
      const output = child.output();
      expect(output.length).toBeGreaterThan(0);
      for (const secret of [good.secret, wrongScope.secret, unknownSecret]) {
        expect(output.includes(secret)).toBe(false);
      }
    } finally {
      child.kill();
      await child.exited;
    }
  });
});
