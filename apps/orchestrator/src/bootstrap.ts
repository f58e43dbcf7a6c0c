import {
  AllExceptionsFilter,
  createValidationPipe,
  loadConfig,
  requestIdFrom,
  type AppEnv,
} from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { setupSwagger } from './swagger';

/** Builds the orchestrator exactly as `main.ts` runs it; tests call this too. */
export async function createOrchestratorApp(env: AppEnv = loadConfig()): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    genReqId: requestIdFrom,
    requestIdHeader: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env), adapter, {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());

  const fastify = app.getHttpAdapter().getInstance();
  // The API speaks JSON only; without this, a text/plain body would reach validation as a string.
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('X-Request-ID', request.id);
  });

  setupSwagger(app);
  app.enableShutdownHooks();
  return app;
}
