// Jest runs global setup outside its module registry (no moduleNameMapper): resolve @app/* from tsconfig paths.
import 'tsconfig-paths/register';
import { buildDataSourceOptions, createDatabaseIfMissing, runMigrations } from '@app/db';
import Redis from 'ioredis';
import { Client } from 'pg';
import { testConfig } from './test-env';

/**
 * Once per test run: a clean test database built by the real migrations, and an empty test
 * Redis database. Starts from `DROP SCHEMA` so a schema left by an older checkout cannot leak in.
 */
export default async function globalSetup(): Promise<void> {
  const env = testConfig();
  await createDatabaseIfMissing(env.DATABASE_URL);
  const client = new Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  } finally {
    await client.end();
  }
  await runMigrations(buildDataSourceOptions(env, 'test-setup'));

  const redis = new Redis(env.REDIS_URL);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
