import { loadConfig } from '@app/platform';
import { buildDataSourceOptions } from './data-source.options';
import { createDatabaseIfMissing, runMigrations } from './prepare-database';

/**
 * `node dist/libs/db/src/migrate.js`: create the database if needed and apply migrations.
 * What `npm start`, the compose `migrate` service and the Kubernetes migration Job run.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const created = await createDatabaseIfMissing(config.DATABASE_URL);
  const applied = await runMigrations(buildDataSourceOptions(config, 'agent-platform-migrate'));
  console.log(JSON.stringify({ app: 'migrate', msg: 'database ready', created, applied }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
