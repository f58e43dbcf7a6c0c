import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Who is calling: set on the request by authentication; absent when auth is off (development). */
export interface Principal {
  name: string;
  tier: string;
  scopes: readonly string[];
}

export const ANONYMOUS_CLIENT = 'anonymous';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The caller's stable id (API key name, or "anonymous"): scopes idempotency keys and rate limits. */
export const ClientId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  return request.principal?.name ?? ANONYMOUS_CLIENT;
});
