import { assertDatabaseExists, MissingDatabaseError } from '@app/db';
import { loadConfig } from '@app/platform';
import { constants } from 'node:os';
import { createWorkerApp } from './bootstrap';

/**
 * Nest's shutdown hooks (enableShutdownHooks) run a graceful shutdown on the first SIGTERM or
 * SIGINT and ignore any further signal. An operator who sends a second one wants the process
 * gone now: exit at once; jobs still running come back through stalled-job recovery.
 */
function exitOnSecondSignal(): void {
  let received = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      received += 1;
      if (received < 2) return;
      process.stderr.write(`agent-worker: second ${signal} during shutdown; exiting now\n`);
      process.exit(128 + constants.signals[signal]);
    });
  }
}

async function main(): Promise<void> {
  const env = loadConfig();
  await assertDatabaseExists(env.DATABASE_URL);
  const app = await createWorkerApp(env);
  // After enableShutdownHooks (in createWorkerApp): until then a signal keeps its default action.
  exitOnSecondSignal();
  await app.listen({ port: env.WORKER_HEALTH_PORT, host: env.HTTP_HOST });
}

main().catch((err: unknown) => {
  if (err instanceof MissingDatabaseError) console.error(err.message);
  else console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
