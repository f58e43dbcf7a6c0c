import type { AppEnv } from '@app/platform';
import cors from '@fastify/cors';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { isOperationalRoute } from '../common/operational-routes';
import { ORCHESTRATOR_HELMET_OPTIONS, securityHeaders } from './security-headers';

/**
 * The HTTP edge every response passes: CORS, helmet's security headers, the request id, and
 * `Connection: close` once the server is closing. Called once by createOrchestratorApp, before
 * the app listens.
 */
export async function configureHttpEdge(app: NestFastifyApplication, env: AppEnv): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();

  // CORS stays off (no Access-Control-* headers at all) unless origins are configured.
  if (env.CORS_ORIGINS.length > 0) {
    await app.register(cors, {
      origin: env.CORS_ORIGINS,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['content-type', 'x-api-key', 'idempotency-key', 'x-request-id'],
      exposedHeaders: [
        'location',
        'retry-after',
        'x-request-id',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    });
  }

  // Responses finished while closing say `Connection: close`: Node closes idle keep-alive sockets
  // only when the close starts, and a socket that goes idle after that would hold the server open.
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // One onSend hook for every per-response header, callback style (an async hook would allocate
  // a promise per response): helmet's security headers (precomputed; not on probes and scrapes),
  // the request id, and `Connection: close` once the server is closing.
  const headers = securityHeaders(ORCHESTRATOR_HELMET_OPTIONS);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!isOperationalRoute(request.routeOptions.url)) void reply.headers(headers);
    void reply.header('X-Request-ID', request.id);
    if (closing) void reply.header('Connection', 'close');
    done(null, payload);
  });
}
