import { loadConfig } from '@app/platform';
import { createOrchestratorApp } from './bootstrap';
import { armShutdownDeadline } from './shutdown-deadline';

async function main(): Promise<void> {
  const env = loadConfig();
  const app = await createOrchestratorApp(env);
  armShutdownDeadline(env);
  await app.listen({ port: env.ORCHESTRATOR_PORT, host: env.HTTP_HOST });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
