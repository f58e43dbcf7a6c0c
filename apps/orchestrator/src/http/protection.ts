import type { AppEnv } from '@app/platform';
import cors from '@fastify/cors';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mountQueueDashboard } from '../admin/queue-dashboard';
import { TaskEventsListener } from '../tasks/task-events.listener';
import { TaskQueueService } from '../tasks/task-queue.service';
import { LoadShedder } from './load-shedder';
import { isOperationalRoute } from './operational-routes';
import { RequestTelemetry } from './request-telemetry';
import { ORCHESTRATOR_HELMET_OPTIONS, securityHeaders } from './security-headers';

/**
 * The Fastify-level half of the orchestrator's protection (the Nest half is ProtectionModule).
 * Called once by createOrchestratorApp, before the app listens. Hook order matters: the
 * shedder's onRequest hook is added first so a shed request costs nothing else.
 */
export async function configureHttpProtection(app: NestFastifyApplication, env: AppEnv): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  app.get(LoadShedder).install(fastify);
  app.get(RequestTelemetry).install(fastify);

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
  await mountQueueDashboard(app);

  // Shutdown: after SHUTDOWN_GRACE_MS Fastify stops accepting and waits for in-flight requests.
  // Long-polls could hold it for LONG_POLL_MAX_WAIT_S; wake them so they answer with the
  // task's current state now (the client simply polls again, elsewhere). Responses finished
  // while closing say `Connection: close`: Node closes idle keep-alive sockets only when the
  // close starts, and a socket that goes idle after that would hold the server open.
  const events = app.get(TaskEventsListener);
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    events.drain();
    done();
  });
  // Once in-flight requests are done, no new job adds can start: wait for the ones started
  // after their responses, before the queue's connection closes (onApplicationShutdown).
  const queue = app.get(TaskQueueService);
  fastify.addHook('onClose', async () => queue.settled());
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
