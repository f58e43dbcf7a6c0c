import { buildDataSourceOptions, createDatabaseIfMissing, runMigrations } from '@app/db';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { testConfig } from '../../../test/support/test-env';
import { migrations } from '../src/migrations';

/** A scratch database of its own: the migration runs on rows written in the shape before tenants. */
function scratchUrl(): string {
  const url = new URL(testConfig().DATABASE_URL);
  url.pathname = `${url.pathname}_tenants_mig`;
  return url.toString();
}

describe('the tenants migration moves existing rows', () => {
  const env = { ...testConfig(), DATABASE_URL: scratchUrl() };
  const tenantsIndex = migrations.findIndex((m) => m.name === 'Tenants1795730400040');
  let client: Client;

  beforeAll(async () => {
    await createDatabaseIfMissing(env.DATABASE_URL);
    client = new Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  });
  afterAll(async () => {
    await client.end();
  });

  it('gives every task its client as tenant, every post its task tenant, and keeps every row', async () => {
    expect(tenantsIndex).toBeGreaterThan(0);
    const before = migrations.slice(0, tenantsIndex);
    await runMigrations({ ...buildDataSourceOptions(env), migrations: before });

    // Old-shaped rows: two clients, one anonymous task, the same idempotency key in two clients.
    await client.query(
      `INSERT INTO personas (id, name, system_prompt, model, temperature, max_tokens)
       VALUES ('old-custom', 'Old custom', 'prompt', 'm', 0.5, 100)`,
    );
    const tasks = [
      { id: uuidv7(), client: 'acme', key: 'k-1', status: 'succeeded' },
      { id: uuidv7(), client: 'acme', key: null, status: 'queued' },
      { id: uuidv7(), client: 'globex', key: 'k-1', status: 'failed' },
      { id: uuidv7(), client: 'anonymous', key: null, status: 'running' },
    ];
    for (const t of tasks) {
      await client.query(
        `INSERT INTO tasks (id, persona_id, task_type, input, status, client_id, idempotency_key)
         VALUES ($1, 'founder-voice', 'generate_post', '{"topic":"x"}', $2, $3, $4)`,
        [t.id, t.status, t.client, t.key],
      );
    }
    const postId = uuidv7();
    await client.query(
      `INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
       VALUES ($1, $2, 'founder-voice', 'h', 'b', 10, 'm', 1)`,
      [postId, tasks[0].id],
    );

    const applied = await runMigrations(buildDataSourceOptions(env));
    expect(applied).toContain('Tenants1795730400040');

    const { rows: moved } = await client.query(
      `SELECT id, tenant, client_id, status, idempotency_key FROM tasks ORDER BY id`,
    );
    expect(moved).toEqual(
      tasks.map((t) => ({
        id: t.id,
        tenant: t.client,
        client_id: t.client,
        status: t.status,
        idempotency_key: t.key,
      })),
    );
    expect((await client.query(`SELECT id, tenant FROM posts`)).rows).toEqual([
      { id: postId, tenant: 'acme' },
    ]);
    expect((await client.query(`SELECT id, tenant FROM personas ORDER BY id`)).rows).toEqual([
      { id: 'founder-voice', tenant: null },
      { id: 'old-custom', tenant: null },
      { id: 'skeptical-analyst', tenant: null },
    ]);

    // Idempotency keys are now per tenant: the same key again in one tenant is refused.
    await expect(
      client.query(
        `INSERT INTO tasks (id, persona_id, task_type, input, tenant, client_id, idempotency_key)
         VALUES ($1, 'founder-voice', 'generate_post', '{}', 'acme', 'other-key-of-acme', 'k-1')`,
        [uuidv7()],
      ),
    ).rejects.toThrow(/tasks_tenant_idempotency_key_uq/);

    // A post written later (the worker does not know tenants) takes its task's tenant.
    const later = uuidv7();
    await client.query(
      `INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
       VALUES ($1, $2, 'founder-voice', 'h', 'b', 10, 'm', 1)`,
      [later, tasks[2].id],
    );
    expect((await client.query(`SELECT tenant FROM posts WHERE id = $1`, [later])).rows).toEqual([
      { tenant: 'globex' },
    ]);
  });
});
