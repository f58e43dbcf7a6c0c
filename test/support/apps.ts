import type { AppEnv } from '@app/platform';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createWorkerApp } from '../../apps/agent-worker/src/bootstrap';
import { createOrchestratorApp } from '../../apps/orchestrator/src/bootstrap';
import { testConfig } from './test-env';

export interface RunningApp {
  app: NestFastifyApplication;
  url: string;
  env: AppEnv;
  close(): Promise<void>;
}

async function listen(app: NestFastifyApplication, env: AppEnv): Promise<RunningApp> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, env, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** The real orchestrator (same bootstrap as main.ts) on an ephemeral port. */
export async function startOrchestrator(overrides: Record<string, string> = {}): Promise<RunningApp> {
  const env = testConfig(overrides);
  return listen(await createOrchestratorApp(env), env);
}

/** The real agent worker (same bootstrap as main.ts): processes jobs from the test queue. */
export async function startWorker(overrides: Record<string, string> = {}): Promise<RunningApp> {
  const env = testConfig(overrides);
  return listen(await createWorkerApp(env), env);
}
