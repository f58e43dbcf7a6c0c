import { ApiError, AppConfig, IS_PUBLIC_ROUTE } from '@app/platform';
import { HttpStatus, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpMetrics } from '../observability/http.metrics';
import { tierName } from './rate-limit.tiers';

/** What the response's X-RateLimit-* headers describe: the window closest to its limit. */
const TIGHTEST = Symbol('tightest-rate-limit-window');
type TrackedRequest = FastifyRequest & { [TIGHTEST]?: number };

/**
 * @nestjs/throttler's guard with the platform's rules:
 * - one count per client across all routes (the library's default key is per route handler);
 *   the client is the API key's name, else the client IP (Fastify honours TRUST_PROXY);
 * - @Public() routes (health, metrics) and RATE_LIMIT_ENABLED=false skip it; /docs is not a
 *   Nest route and never reaches it;
 * - one set of X-RateLimit-Limit/Remaining/Reset headers (the window with the least remaining),
 *   plus Retry-After and the platform's error body on 429, instead of one suffixed set per window.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  private readonly enabled: boolean;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    config: AppConfig,
    private readonly metrics: HttpMetrics,
  ) {
    super(options, storage, reflector);
    this.enabled = config.get('RATE_LIMIT_ENABLED');
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return (
      !this.enabled ||
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_ROUTE, [
        context.getHandler(),
        context.getClass(),
      ]) === true
    );
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as FastifyRequest;
    return request.principal ? `key:${request.principal.name}` : `ip:${request.ip}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, window: string): string {
    return `${window}:${tracker}`;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const http = context.switchToHttp();
    const request = http.getRequest<TrackedRequest>();
    const reply = http.getResponse<FastifyReply>();
    const window = throttler.name ?? 'default';
    const tracker = await getTracker(request, context);
    const record = await this.storageService.increment(
      generateKey(context, tracker, window),
      ttl,
      limit,
      blockDuration,
      window,
    );

    if (record.isBlocked) {
      const retryAfter = Math.max(1, record.timeToBlockExpire);
      void reply
        .header('X-RateLimit-Limit', limit)
        .header('X-RateLimit-Remaining', 0)
        .header('X-RateLimit-Reset', retryAfter);
      const tier = tierName(request);
      this.metrics.rateLimited.inc({ tier, window });
      const client = request.principal ? `API key "${request.principal.name}"` : `client ${request.ip}`;
      throw new ApiError(
        HttpStatus.TOO_MANY_REQUESTS,
        `Rate limit exceeded for ${client} (tier ${tier}): ${limit} requests per ${ttl / 1000} s; retry after ${retryAfter} s`,
        undefined,
        retryAfter,
      );
    }

    const remaining = Math.max(0, limit - record.totalHits);
    const tightest = request[TIGHTEST];
    if (tightest === undefined || remaining < tightest) {
      request[TIGHTEST] = remaining;
      void reply
        .header('X-RateLimit-Limit', limit)
        .header('X-RateLimit-Remaining', remaining)
        .header('X-RateLimit-Reset', record.timeToExpire);
    }
    return true;
  }
}
