import type { AppEnv } from '@app/platform';
import cors from '@fastify/cors';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { errorCodes, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerOptions } from 'node:http';
import { isOperationalRoute } from '../common/operational-routes';
import { ORCHESTRATOR_HELMET_OPTIONS, securityHeaders } from './security-headers';

/**
 * Node checks the request deadline (headers and body) on a timer, every 30 s by default: a
 * stalled upload would hold its MAX_IN_FLIGHT slot up to 30 s past its deadline. Every second
 * keeps the bound close to HTTP_REQUEST_TIMEOUT_MS for the cost of one walk over the open
 * connections per second.
 */
export const DEADLINE_CHECK_INTERVAL_MS = 1000;

/**
 * A body declared larger than BODY_LIMIT_BYTES but at most this big is read and thrown away before
 * the 413 is sent. Answering at once and closing the socket while the client is still writing makes
 * most clients (Node's fetch among them) fail with EPIPE or ECONNRESET and never see the 413. Larger
 * bodies are answered at once and the connection is closed: reading them would cost more than a
 * client that sends them deserves. The request deadline bounds the time either way.
 */
export const OVERSIZED_BODY_DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * The HTTP server's timeouts, given to Fastify (and Node's http.Server) when the app is built:
 * - requestTimeout and headersTimeout: a request must arrive in full (headers and body) within
 *   HTTP_REQUEST_TIMEOUT_MS of its first byte, else Node answers 408 and closes the connection,
 *   which frees the request's MAX_IN_FLIGHT slot. A request that has arrived (a long-poll waiting
 *   for its task) is no longer timed.
 * - keepAliveTimeout: an idle keep-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS.
 * - connectionTimeout (socket inactivity) stays off: a long-poll's socket is silent by design
 *   while it waits, up to LONG_POLL_MAX_WAIT_S.
 */
export function httpServerOptions(env: AppEnv): FastifyServerOptions & { http: ServerOptions } {
  return {
    bodyLimit: env.BODY_LIMIT_BYTES,
    requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    },
  };
}

/**
 * The HTTP edge every response passes: CORS, helmet's security headers, the request id, and
 * `Connection: close` once the server is closing; how JSON bodies are read. Called once by
 * createOrchestratorApp, before the app listens.
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

  acceptEmptyJsonBodies(fastify);
  drainOversizedBodies(fastify, env.BODY_LIMIT_BYTES);
}

/**
 * An empty body sent with `Content-Type: application/json` is no body, not malformed JSON: clients
 * and HTTP libraries add the header to body-less POSTs (cancel, retry). A route that needs a body
 * still refuses it, in validation ("the body is empty"). Anything else goes to Fastify's own JSON
 * parser, with its prototype-poisoning checks.
 */
function acceptEmptyJsonBodies(fastify: FastifyInstance): void {
  const { onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser(
    onProtoPoisoning ?? 'error',
    onConstructorPoisoning ?? 'error',
  );
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString(); // always a string with parseAs 'string'
    if (text === '') {
      done(null, undefined);
      return;
    }
    void parseJson(request, text, done); // synchronous: it calls done itself
  });
}

/** See OVERSIZED_BODY_DRAIN_BYTES. Bodies without a declared length are left to Fastify's own limit. */
function drainOversizedBodies(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const declared = Number(request.headers['content-length']);
    if (!(declared > bodyLimit && declared <= OVERSIZED_BODY_DRAIN_BYTES)) return done(null, payload);
    let settled = false;
    const refuse = () => {
      if (settled) return;
      settled = true;
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    };
    payload.on('end', refuse);
    payload.on('error', refuse);
    payload.on('close', refuse);
    payload.resume();
  });
}
