import { loadConfig } from '@app/platform';
import { createWorkerApp } from './bootstrap';

async function main(): Promise<void> {
  const env = loadConfig();
  const app = await createWorkerApp(env);
  await app.listen({ port: env.WORKER_HEALTH_PORT, host: env.HTTP_HOST });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
