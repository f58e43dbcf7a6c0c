import type { Pool } from 'pg';
import { apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { spawnOrchestrator, type ChildApp } from '../../../test/support/child-app';
import { testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';

/** How long a revocation may take to reach every replica. */
const REVOCATION_BOUND_MS = 2000;

describe('API key revocation across two orchestrator processes', () => {
  const root = testKey('procs-root', ['admin']);
  let one: ChildApp;
  let two: ChildApp;
  let pool: Pool;

  beforeAll(async () => {
    const env = { API_KEYS: apiKeysEnv([root]) };
    [one, two] = await Promise.all([spawnOrchestrator(env), spawnOrchestrator(env)]);
    pool = testPool();
  }, 60_000);
  afterAll(async () => {
    one?.kill();
    two?.kill();
    await Promise.all([one?.exited, two?.exited]);
    await pool.end();
  });

  const get = (app: ChildApp, secret: string) =>
    request(app.url, 'GET', '/v1/tasks', { headers: { 'x-api-key': secret } });
  const mint = async () => {
    const res = await request(one.url, 'POST', '/v1/admin/api-keys', {
      body: { tenant: 'procs', name: 'procs-key', tier: 'default', scopes: ['tasks:read'] },
      headers: { 'x-api-key': root.secret },
    });
    expect(res.status).toBe(201);
    // Both replicas know (and have cached) the key before it is revoked.
    expect((await get(one, res.body.key)).status).toBe(200);
    expect((await get(two, res.body.key)).status).toBe(200);
    return res.body as { id: string; key: string };
  };
  /** Milliseconds from `since` until `app` refuses the key. */
  const refusedAfter = async (app: ChildApp, secret: string, since: number) => {
    await eventually(async () => ((await get(app, secret)).status === 401 ? true : undefined), 5000, 20);
    return Date.now() - since;
  };

  it('a key revoked through one replica is refused by the other within 2 s', async () => {
    const key = await mint();
    const revokedAt = Date.now();
    const res = await request(one.url, 'DELETE', `/v1/admin/api-keys/${key.id}`, {
      headers: { 'x-api-key': root.secret },
    });
    expect(res.status).toBe(204);
    expect((await get(one, key.key)).status).toBe(401);
    expect(await refusedAfter(two, key.key, revokedAt)).toBeLessThan(REVOCATION_BOUND_MS);
  });

  it('without the Redis message (revoked in Postgres directly) the cache TTL still refuses it within 2 s', async () => {
    const key = await mint();
    const revokedAt = Date.now();
    await pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    const [a, b] = await Promise.all([
      refusedAfter(one, key.key, revokedAt),
      refusedAfter(two, key.key, revokedAt),
    ]);
    expect(Math.max(a, b)).toBeLessThan(REVOCATION_BOUND_MS);
  });

  it('a rotation through one replica: the other accepts the new secret at once', async () => {
    const key = await mint();
    const rotated = await request(one.url, 'POST', `/v1/admin/api-keys/${key.id}/rotate`, {
      headers: { 'x-api-key': root.secret },
    });
    expect(rotated.status).toBe(200);
    expect((await get(two, rotated.body.key)).status).toBe(200);
    // The default grace period is a day: the old secret keeps working on both.
    expect((await get(two, key.key)).status).toBe(200);
    expect((await get(one, key.key)).status).toBe(200);
  });
});
