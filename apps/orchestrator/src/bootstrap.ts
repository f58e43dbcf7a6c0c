import {
  AllExceptionsFilter,
  createValidationPipe,
  loadConfig,
  registerLiveness,
  requestIdFrom,
  type AppEnv,
} from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { assertOrchestratorConfig } from './auth/orchestrator-config';
import { configureHttpProtection } from './http/protection';
import { setupSwagger } from './swagger';

/** Builds the orchestrator exactly as `main.ts` runs it; tests call this too. */
export async function createOrchestratorApp(env: AppEnv = loadConfig()): Promise<NestFastifyApplication> {
  assertOrchestratorConfig(env);
  const adapter = new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    genReqId: requestIdFrom,
    requestIdHeader: false,
    trustProxy: env.TRUST_PROXY,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env), adapter, {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());

  await configureHttpProtection(app, env);
  const fastify = app.getHttpAdapter().getInstance();
  registerLiveness(fastify);
  // The API speaks JSON only; without this, a text/plain body would reach validation as a string.
  fastify.removeContentTypeParser('text/plain');

  setupSwagger(app);
  app.enableShutdownHooks();
  return app;
}
