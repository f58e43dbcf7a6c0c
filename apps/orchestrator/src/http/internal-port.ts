import { ApiError, AppConfig, sendError, toErrorResponse, type AppEnv } from '@app/platform';
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpServerOptions } from './http-edge';

const HEALTH_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready']);

/** Routes for Prometheus and operators, not API clients: metrics and the API docs (UI, assets, JSON, YAML). */
export function isInternalRoute(route: string | undefined): boolean {
  return route !== undefined && (route === '/metrics' || route.startsWith('/docs'));
}

/**
 * ORCHESTRATOR_INTERNAL_PORT: a second listener on the same Fastify instance (same routes, hooks
 * and registry) that serves only the internal routes and the health routes. With
 * NODE_ENV=production the API port answers 404 for the internal routes, so metrics and docs are
 * reachable only where the network lets Prometheus and operators in (k8s NetworkPolicy, compose's
 * unpublished port). Outside production the API port keeps serving them, for local use.
 */
@Injectable()
export class InternalPort {
  private readonly logger = new Logger(InternalPort.name);
  private server: Server | null = null;
  private readonly requests = new WeakSet<IncomingMessage>();
  private readonly apiServesInternalRoutes: boolean;
  private readonly env: AppEnv;

  constructor(config: AppConfig) {
    this.env = config.values;
    this.apiServesInternalRoutes = !config.isProduction;
  }

  /** The port the internal listener is bound to (useful when configured as 0), or null. */
  get port(): number | null {
    return (this.server?.address() as AddressInfo | null)?.port ?? null;
  }

  /**
   * Adds the route gate (an onRequest hook) and binds the internal port when the app becomes
   * ready (before the API port listens, so a port in use stops the boot), closing it with the app.
   */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request, reply, done) => {
      if (this.allowed(request)) return done();
      this.notFound(request, reply);
    });
    const port = this.env.ORCHESTRATOR_INTERNAL_PORT;
    if (port === undefined) {
      if (!this.apiServesInternalRoutes) {
        this.logger.warn(
          'ORCHESTRATOR_INTERNAL_PORT is not set: /metrics and /docs are not served (NODE_ENV=production keeps them off the API port)',
        );
      }
      return;
    }
    fastify.addHook('onReady', async () => {
      const { http, requestTimeout, keepAliveTimeout } = httpServerOptions(this.env);
      const server = createServer(http, (req, res) => {
        this.requests.add(req);
        fastify.routing(req, res);
      });
      server.requestTimeout = requestTimeout!;
      server.keepAliveTimeout = keepAliveTimeout!;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.env.HTTP_HOST, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.server = server;
      this.logger.log({ port: this.port }, 'internal port (metrics, docs, health) listening');
    });
    fastify.addHook('onClose', async () => {
      const server = this.server;
      if (!server) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    });
  }

  private allowed(request: FastifyRequest): boolean {
    const route = request.routeOptions.url;
    if (this.requests.has(request.raw)) return isInternalRoute(route) || HEALTH_ROUTES.has(route ?? '');
    return this.apiServesInternalRoutes || !isInternalRoute(route);
  }

  private notFound(request: FastifyRequest, reply: FastifyReply): void {
    const path = request.url.split('?')[0];
    sendError(reply, toErrorResponse(new ApiError(404, `Cannot ${request.method} ${path}`)));
  }
}
