import { AllExceptionsFilter, loadConfig, requestIdFrom, type AppEnv } from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { WorkerModule } from './worker.module';

/** Builds the agent worker (Bull processor + a small HTTP server for health); tests call this too. */
export async function createWorkerApp(env: AppEnv = loadConfig()): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    WorkerModule.forRoot(env),
    new FastifyAdapter({ genReqId: requestIdFrom, requestIdHeader: false }),
    { bufferLogs: true },
  );
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new AllExceptionsFilter());
  app.enableShutdownHooks();
  return app;
}
