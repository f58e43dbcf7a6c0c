import { AppConfig } from '@app/platform';
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { HttpMetrics, UNMATCHED_ROUTE } from './http.metrics';
import { isOperationalRoute } from '../common/operational-routes';

/**
 * One onResponse hook: the duration histogram (labelled by route pattern, never the raw URL) and,
 * when LOG_REQUESTS is on, one structured log line per request. Headers are never logged, so an
 * API key cannot reach the logs from here.
 */
@Injectable()
export class RequestTelemetry {
  private readonly logger = new Logger('HttpRequest');
  private readonly logRequests: boolean;

  constructor(
    config: AppConfig,
    private readonly metrics: HttpMetrics,
  ) {
    this.logRequests = config.get('LOG_REQUESTS');
  }

  install(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      // Probes and scrapes are machines asking every few seconds: not client traffic, so they are
      // neither timed nor logged (and the cheapest routes stay cheap).
      if (isOperationalRoute(route)) return done();
      const ms = reply.elapsedTime;
      this.metrics.duration.observe(
        { method: request.method, route, status_code: reply.statusCode },
        ms / 1000,
      );
      if (this.logRequests) {
        this.logger.log(
          {
            reqId: request.id,
            method: request.method,
            route,
            url: request.url,
            status: reply.statusCode,
            ms: Math.round(ms * 10) / 10,
            client: request.principal?.name ?? request.ip,
          },
          'request completed',
        );
      }
      done();
    });
  }
}
