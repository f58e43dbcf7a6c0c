import { ConfigError } from '@app/platform';
import type { Pool } from 'pg';
import { apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { spawnOrchestrator } from '../../../test/support/child-app';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';
import { testConfig } from '../../../test/support/test-env';
import { createOrchestratorApp } from '../src/bootstrap';
import { InternalPort } from '../src/http/internal-port';

const client = testKey('production-client', ['tasks:read', 'tasks:write', 'personas:read']);
// A Standard Webhooks secret (whsec_ + base64 of 32 bytes), made for this test only.
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
/** What a production deployment sets besides its own choices. */
const production = (extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  API_KEYS: apiKeysEnv([client]),
  WEBHOOK_SECRET: SECRET,
  ...extra,
});

describe('production means production', () => {
  const apps: RunningApp[] = [];
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'production');
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
  const get = (base: string, path: string) =>
    request(base, 'GET', path, { headers: { 'x-api-key': client.secret } });

  it('refuses to start with an empty WEBHOOK_SECRET while callbacks are accepted, naming the variable', async () => {
    const attempt = createOrchestratorApp(testConfig(production({ WEBHOOK_SECRET: '' })));
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/WEBHOOK_SECRET: must be set when NODE_ENV=production/);
  });

  it('with WEBHOOKS_ENABLED=false it starts without a secret, and a callback_url is a 400 that writes nothing', async () => {
    const api = await start(production({ WEBHOOK_SECRET: '', WEBHOOKS_ENABLED: 'false' }));
    const before = await countRows(pool, 'tasks');
    const res = await request(api.url, 'POST', '/v1/tasks', {
      headers: { 'x-api-key': client.secret },
      body: {
        persona_id: persona,
        task_type: 'generate_post',
        topic: 'x',
        callback_url: 'https://hooks.example.com/done',
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([expect.objectContaining({ field: 'callback_url' })]);
    expect(res.body.message).toMatch(/WEBHOOKS_ENABLED=false/);
    expect(await countRows(pool, 'tasks')).toBe(before);
    const plain = await request(api.url, 'POST', '/v1/tasks', {
      headers: { 'x-api-key': client.secret },
      body: { persona_id: persona, task_type: 'generate_post', topic: 'no callback' },
    });
    expect(plain.status).toBe(202);
  });

  it.each([' ', '0x1F90', '1e3'])(
    'the real process refuses ORCHESTRATOR_PORT=%j, naming the variable, and exits 1',
    async (port) => {
      const attempt = spawnOrchestrator({ ORCHESTRATOR_PORT: port });
      await expect(attempt).rejects.toThrow(
        /ORCHESTRATOR_PORT: must be a whole number in plain decimal digits/,
      );
    },
  );

  it('/metrics, /docs and /docs-json are not on the API port; the internal port serves them (and health), nothing else', async () => {
    const api = await start(production({ ORCHESTRATOR_INTERNAL_PORT: '0' }));
    const port = api.app.get(InternalPort).port;
    expect(port).toEqual(expect.any(Number));
    const internal = `http://127.0.0.1:${port}`;

    for (const path of ['/metrics', '/docs', '/docs-json', '/docs-yaml', '/docs/swagger-ui-init.js']) {
      const onApi = await get(api.url, path);
      expect({ path, status: onApi.status }).toEqual({ path, status: 404 });
      expect(onApi.body).toMatchObject({ statusCode: 404, message: `Cannot GET ${path}` });
      expect({ path, status: (await get(internal, path)).status }).toEqual({ path, status: 200 });
    }
    const metrics = await get(internal, '/metrics');
    expect(String(metrics.body)).toMatch(/process_resident_memory_bytes\{app="orchestrator"\} \d+/);
    expect((await get(internal, '/docs-json')).body.openapi).toMatch(/^3\./);

    for (const path of ['/health/live', '/health/ready']) {
      expect((await get(api.url, path)).status).toBe(200);
      expect((await get(internal, path)).status).toBe(200);
    }
    // The API itself is only on the API port.
    expect((await get(api.url, '/v1/personas?limit=1')).status).toBe(200);
    expect((await get(internal, '/v1/personas?limit=1')).status).toBe(404);
    expect((await get(internal, '/admin/queues')).status).toBe(404);
  });

  it('without ORCHESTRATOR_INTERNAL_PORT, production serves metrics and docs nowhere; development keeps them on the API port', async () => {
    const prod = await start(production());
    expect(prod.app.get(InternalPort).port).toBeNull();
    for (const path of ['/metrics', '/docs', '/docs-json'])
      expect((await get(prod.url, path)).status).toBe(404);
    expect((await get(prod.url, '/health/ready')).status).toBe(200);

    const dev = await start({ NODE_ENV: 'development' });
    for (const path of ['/metrics', '/docs', '/docs-json'])
      expect((await get(dev.url, path)).status).toBe(200);
  });
});
