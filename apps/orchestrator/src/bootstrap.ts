import {
  AllExceptionsFilter,
  createValidationPipe,
  loadConfig,
  PlatformLogger,
  registerLiveness,
  requestIdFrom,
  type AppEnv,
} from '@app/platform';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { assertOrchestratorConfig } from './orchestrator-config';
import { mountQueueDashboard } from './admin/queue-dashboard';
import { configureHttpEdge, httpServerOptions } from './http/http-edge';
import { InternalPort } from './http/internal-port';
import { RequestTelemetry } from './observability/request-telemetry';
import { LoadShedder } from './protection/shedding/load-shedder';
import { installTaskShutdownHooks } from './tasks/tasks.shutdown';
import { setupSwagger } from './openapi/openapi.document';

/** Builds the orchestrator exactly as `main.ts` runs it; tests call this too. */
export async function createOrchestratorApp(env: AppEnv = loadConfig()): Promise<NestFastifyApplication> {
  assertOrchestratorConfig(env);
  const adapter = new FastifyAdapter({
    ...httpServerOptions(env),
    genReqId: requestIdFrom,
    requestIdHeader: false,
    trustProxy: env.TRUST_PROXY,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(env), adapter, {
    bufferLogs: true,
    // The JSON parser is the HTTP edge's (configureHttpEdge); the API takes no form bodies.
    bodyParser: false,
  });
  app.useLogger(app.get(PlatformLogger));
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());

  const fastify = app.getHttpAdapter().getInstance();
  // Hook order matters: the shedder's onRequest hook comes first, so a shed request costs nothing else.
  app.get(LoadShedder).install(fastify);
  app.get(InternalPort).install(fastify);
  app.get(RequestTelemetry).install(fastify);
  await configureHttpEdge(app, env);
  installTaskShutdownHooks(app);
  await mountQueueDashboard(app);
  registerLiveness(fastify);
  // The API speaks JSON only; without this, a text/plain body would reach validation as a string.
  fastify.removeContentTypeParser('text/plain');

  setupSwagger(app);
  app.enableShutdownHooks();
  return app;
}
