import { buildDataSourceOptions, createDatabaseIfMissing, runMigrations } from '@app/db';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { testConfig } from '../../../test/support/test-env';

/** A scratch database next to the test database, so migrating down and up disturbs no other suite. */
function scratchUrl(): string {
  const url = new URL(testConfig().DATABASE_URL);
  url.pathname = `${url.pathname}_migrations`;
  return url.toString();
}

describe('migrations and entities', () => {
  const env = { ...testConfig(), DATABASE_URL: scratchUrl() };

  beforeAll(async () => {
    await createDatabaseIfMissing(env.DATABASE_URL);
    const client = new Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
    await client.end();
  });

  it('apply from scratch, seed two personas, revert fully and apply again', async () => {
    const applied = await runMigrations(buildDataSourceOptions(env));
    expect(applied).toEqual([
      'InitialSchema1795730400000',
      'SeedPersonas1795730400001',
      'ReconcilerState1795730400010',
      'WebhookEvents1795730400020',
      'TaskUsage1795730400030',
      'Tenants1795730400040',
    ]);

    const ds = new DataSource(buildDataSourceOptions(env));
    await ds.initialize();
    try {
      expect(await ds.query('SELECT id FROM personas ORDER BY id')).toEqual([
        { id: 'founder-voice' },
        { id: 'skeptical-analyst' },
      ]);
      for (let i = 0; i < applied.length; i++) await ds.undoLastMigration();
      const tables = await ds.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'typeorm_migrations'`,
      );
      expect(tables).toEqual([]);
      await ds.runMigrations();
      expect(await ds.query('SELECT count(*)::int AS n FROM personas')).toEqual([{ n: 2 }]);
    } finally {
      await ds.destroy();
    }
  });

  it('entities describe exactly the schema the migrations build (migration:generate would find nothing)', async () => {
    const ds = new DataSource(buildDataSourceOptions(env));
    await ds.initialize();
    try {
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('an exhausted pool fails fast instead of queueing forever', async () => {
    const ds = new DataSource(
      buildDataSourceOptions({ ...env, DB_POOL_MAX: 1, DB_POOL_ACQUIRE_TIMEOUT_MS: 300 }),
    );
    await ds.initialize();
    try {
      const holder = ds.query('SELECT pg_sleep(2)');
      const started = Date.now();
      await expect(ds.query('SELECT 1')).rejects.toThrow(/timeout exceeded when trying to connect/);
      expect(Date.now() - started).toBeLessThan(1500);
      await holder;
    } finally {
      await ds.destroy();
    }
  });

  it('statement_timeout stops a runaway query', async () => {
    const ds = new DataSource(buildDataSourceOptions({ ...env, DB_STATEMENT_TIMEOUT_MS: 200 }));
    await ds.initialize();
    try {
      await expect(ds.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
    } finally {
      await ds.destroy();
    }
  });
});
