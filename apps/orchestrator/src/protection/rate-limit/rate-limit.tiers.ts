import type { AppEnv, RateTier } from '@app/platform';
import type { ExecutionContext } from '@nestjs/common';
import type { ThrottlerOptions } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';

export const DEFAULT_TIER = 'default';

export function tierName(request: FastifyRequest): string {
  return request.principal?.tier ?? DEFAULT_TIER;
}

/**
 * The seed's "600 requests/min sustained + burst 50 per second" as two named throttlers that
 * must both allow a request: `burst` (1 s window) and `sustained` (60 s window). A client may
 * spend up to 50 requests in any one second, but no more than 600 in a minute: 50/s for 12 s,
 * then it waits for the minute window. Both are fixed windows in Redis, starting at the
 * client's first request. A client that overruns a window is refused for one window length
 * (1 s or 60 s) from its first refused request, and Retry-After says so. Refused requests are
 * not counted in the sustained window when the burst window refused them. Limits follow the
 * API key's tier, resolved per request.
 */
export function throttlersFor(tiers: AppEnv['RATE_LIMIT_TIERS']): ThrottlerOptions[] {
  const tierOf = (context: ExecutionContext): RateTier =>
    tiers[tierName(context.switchToHttp().getRequest<FastifyRequest>())] ?? tiers[DEFAULT_TIER];
  return [
    { name: 'burst', ttl: 1000, limit: (context) => tierOf(context).burst_per_second },
    { name: 'sustained', ttl: 60_000, limit: (context) => tierOf(context).per_minute },
  ];
}
