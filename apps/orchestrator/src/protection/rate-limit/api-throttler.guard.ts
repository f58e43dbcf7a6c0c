import { ApiError, AppConfig, IS_PUBLIC_ROUTE } from '@app/platform';
import { HttpStatus, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  ThrottlerGuard,
  type Resolvable,
  type ThrottlerModuleOptions,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpMetrics } from '../../observability/http.metrics';
import { LimiterStorage } from './limiter.storage';
import type { RateWindow, WindowRecord } from './rate-windows';
import { tierName } from './rate-limit.tiers';

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
    private readonly storage: LimiterStorage,
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

  /**
   * All windows in one storage call (one Redis round trip) instead of the library's one awaited
   * call per window. Per-route @Throttle/@SkipThrottle metadata is not read: no route uses it.
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (await this.shouldSkip(context)) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const windows: RateWindow[] = [];
    for (const t of this.throttlers) {
      const ttlMs = await resolve(t.ttl, context);
      windows.push({
        name: t.name ?? 'default',
        ttlMs,
        limit: await resolve(t.limit, context),
        blockDurationMs: t.blockDuration === undefined ? ttlMs : await resolve(t.blockDuration, context),
      });
    }
    const records = await this.storage.incrementWindows(this.trackerOf(request), windows);

    const refused = records.find((r) => r.isBlocked);
    if (refused) {
      const { limit, ttlMs, name } = refused.window;
      const retryAfter = Math.max(1, refused.timeToBlockExpire);
      void reply
        .header('X-RateLimit-Limit', limit)
        .header('X-RateLimit-Remaining', 0)
        .header('X-RateLimit-Reset', retryAfter);
      const tier = tierName(request);
      this.metrics.rateLimited.inc({ tier, window: name });
      const client = request.principal ? `API key "${request.principal.name}"` : `client ${request.ip}`;
      throw new ApiError(
        HttpStatus.TOO_MANY_REQUESTS,
        `Rate limit exceeded for ${client} (tier ${tier}): ${limit} requests per ${ttlMs / 1000} s; retry after ${retryAfter} s`,
        undefined,
        retryAfter,
      );
    }

    // One set of headers: the window with the least remaining (the first one on a tie).
    let tightest: WindowRecord | undefined;
    let tightestRemaining = Infinity;
    for (const r of records) {
      const remaining = Math.max(0, r.window.limit - r.totalHits);
      if (remaining < tightestRemaining) {
        tightest = r;
        tightestRemaining = remaining;
      }
    }
    if (tightest) {
      void reply
        .header('X-RateLimit-Limit', tightest.window.limit)
        .header('X-RateLimit-Remaining', tightestRemaining)
        .header('X-RateLimit-Reset', tightest.timeToExpire);
    }
    return true;
  }

  /** One count per client across all routes: the API key (its id), else the client IP. */
  private trackerOf(request: FastifyRequest): string {
    return request.principal ? `key:${request.principal.id}` : `ip:${request.ip}`;
  }
}

/** A throttler option is a number or a function of the request (limits follow the key's tier). */
async function resolve(value: Resolvable<number>, context: ExecutionContext): Promise<number> {
  return typeof value === 'function' ? value(context) : value;
}
