import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { countRows, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';

describe('admin API for API keys', () => {
  const admin = testKey('root-admin', ['admin']);
  const plain = testKey('plain-reader', ['tasks:read']);
  let api: RunningApp;
  let pool: Pool;

  beforeAll(async () => {
    api = await startOrchestrator({
      API_KEYS: apiKeysEnv([admin, plain]),
      API_KEY_ROTATION_GRACE_S: '2',
    });
    pool = testPool();
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  const as = (secret: string, method: string, path: string, body?: unknown) =>
    request(api.url, method, path, { body, headers: { 'x-api-key': secret } });
  const mint = async (tenant: string, scopes = ['tasks:read', 'tasks:write']) => {
    const res = await as(admin.secret, 'POST', '/v1/admin/api-keys', {
      tenant,
      name: `${tenant}-key`,
      tier: 'default',
      scopes,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; key: string; tenant: string };
  };

  it('mints a key whose secret appears only in the answer; only its hash is stored; it works at once', async () => {
    const res = await as(admin.secret, 'POST', '/v1/admin/api-keys', {
      tenant: 'mint-co',
      name: 'ci-bot',
      tier: 'default',
      scopes: ['tasks:read'],
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      tenant: 'mint-co',
      name: 'ci-bot',
      tier: 'default',
      scopes: ['tasks:read'],
    });
    expect(res.body.key).toMatch(/^ak_[A-Za-z0-9_-]{40,}$/);
    const { rows } = await pool.query('SELECT * FROM api_keys WHERE id = $1', [res.body.id]);
    expect(JSON.stringify(rows)).not.toContain(res.body.key);
    expect((await as(res.body.key, 'GET', '/v1/tasks')).status).toBe(200);

    const listed = await as(admin.secret, 'GET', '/v1/admin/api-keys?tenant=mint-co');
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((k: { id: string }) => k.id)).toEqual([res.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(res.body.key);
    expect(listed.body.data[0]).not.toHaveProperty('key');
    // The use above was recorded (at most once a minute per key).
    expect(listed.body.data[0].last_used_at).not.toBeNull();
  });

  it('refuses bad input with 400 and writes nothing', async () => {
    const before = await countRows(pool, 'tasks');
    const keysBefore = (await pool.query('SELECT count(*)::int AS n FROM api_keys')).rows[0].n;
    for (const [body, field] of [
      [{ tenant: 'x', name: 'y', tier: 'default', scopes: [] }, 'scopes'],
      [{ tenant: 'x', name: 'y', tier: 'default', scopes: ['root'] }, 'scopes'],
      [{ tenant: 'x y', name: 'y', tier: 'default', scopes: ['tasks:read'] }, 'tenant'],
      [{ tenant: 'x', name: 'y', tier: 'platinum', scopes: ['tasks:read'] }, 'tier'],
      [
        {
          tenant: 'x',
          name: 'y',
          tier: 'default',
          scopes: ['tasks:read'],
          expires_at: '2001-01-01T00:00:00Z',
        },
        'expires_at',
      ],
    ] as const) {
      const res = await as(admin.secret, 'POST', '/v1/admin/api-keys', body);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain(field);
    }
    expect((await pool.query('SELECT count(*)::int AS n FROM api_keys')).rows[0].n).toBe(keysBefore);
    expect(await countRows(pool, 'tasks')).toBe(before);
  });

  it('needs the admin scope: 403 for any other key, 401 without one', async () => {
    const res = await as(plain.secret, 'GET', '/v1/admin/api-keys');
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('admin');
    expect((await request(api.url, 'GET', '/v1/admin/api-keys')).status).toBe(401);
  });

  it('revokes: the key answers 401 right after, and a repeat is harmless', async () => {
    const key = await mint('revoke-co');
    expect((await as(key.key, 'GET', '/v1/tasks')).status).toBe(200);
    expect((await as(admin.secret, 'DELETE', `/v1/admin/api-keys/${key.id}`)).status).toBe(204);
    const after = await as(key.key, 'GET', '/v1/tasks');
    expect(after.status).toBe(401);
    expect(after.body.message).toBe('Invalid API key');
    expect((await as(admin.secret, 'DELETE', `/v1/admin/api-keys/${key.id}`)).status).toBe(204);
    const missing = await as(
      admin.secret,
      'DELETE',
      '/v1/admin/api-keys/00000000-0000-7000-8000-000000000001',
    );
    expect(missing.status).toBe(404);
    expect((await as(admin.secret, 'POST', `/v1/admin/api-keys/${key.id}/rotate`)).status).toBe(409);
  });

  it('rotates: the new secret works at once, the old one only for the grace period', async () => {
    const key = await mint('rotate-co');
    const rotated = await as(admin.secret, 'POST', `/v1/admin/api-keys/${key.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).not.toBe(key.key);
    expect(rotated.body.id).toBe(key.id);
    const graceEnd = Date.parse(rotated.body.previous_key_valid_until);
    expect(graceEnd).toBeGreaterThan(Date.now());
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 2_000);
    expect((await as(rotated.body.key, 'GET', '/v1/tasks')).status).toBe(200);
    // Within the grace period the old secret still works.
    const sentAt = Date.now();
    const during = await as(key.key, 'GET', '/v1/tasks');
    expect(sentAt).toBeLessThan(graceEnd);
    expect(during.status).toBe(200);
    await eventually(
      async () => ((await as(key.key, 'GET', '/v1/tasks')).status === 401 ? true : undefined),
      5000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(graceEnd);
    expect((await as(rotated.body.key, 'GET', '/v1/tasks')).status).toBe(200);
  });
});
