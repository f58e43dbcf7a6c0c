import {
  AllExceptionsFilter,
  loadConfig,
  PlatformLogger,
  registerLiveness,
  requestIdFrom,
  type AppEnv,
} from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WorkerModule } from './worker.module';

/** Builds the agent worker (Bull processor + a small HTTP server for health); tests call this too. */
export async function createWorkerApp(env: AppEnv = loadConfig()): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    WorkerModule.forRoot(env),
    new FastifyAdapter({ genReqId: requestIdFrom, requestIdHeader: false }),
    { bufferLogs: true },
  );
  app.useLogger(app.get(PlatformLogger));
  app.useGlobalFilters(new AllExceptionsFilter());
  registerLiveness(app.getHttpAdapter().getInstance());
  // useProcessExit: once the graceful shutdown is done the process exits 0 (and pino flushes),
  // instead of re-raising the signal; main.ts turns a second signal into an immediate exit.
  app.enableShutdownHooks([], { useProcessExit: true });
  return app;
}
