import { assertDatabaseExists, MissingDatabaseError } from '@app/db';
import { loadConfig } from '@app/platform';
import { createOrchestratorApp } from './bootstrap';
import { armShutdownDeadline } from './shutdown-deadline';

async function main(): Promise<void> {
  const env = loadConfig();
  await assertDatabaseExists(env.DATABASE_URL);
  const app = await createOrchestratorApp(env);
  armShutdownDeadline(env);
  await app.listen({ port: env.ORCHESTRATOR_PORT, host: env.HTTP_HOST });
}

main().catch((err: unknown) => {
  if (err instanceof MissingDatabaseError) console.error(err.message);
  else console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
