import { createParamDecorator, HttpStatus, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './api-error';

/** Who is calling: set on the request by authentication; absent when auth is off (development). */
export interface Principal {
  /** The key's id: the api_keys row id, or `env:<name>` for an API_KEYS entry. */
  id: string;
  name: string;
  /** The tenant whose tasks, posts and personas the key sees. */
  tenant: string;
  tier: string;
  scopes: readonly string[];
}

export const ANONYMOUS_CLIENT = 'anonymous';

/** The tenant of everything created while auth is off (development). */
export const ANONYMOUS_TENANT = 'anonymous';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The caller's stable id (API key name, or "anonymous"): recorded on the tasks it creates. */
export const ClientId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  return request.principal?.name ?? ANONYMOUS_CLIENT;
});

/**
 * Which tenant's records a request may see and change.
 * - `tenant`: the tenant it acts as (new records belong to it);
 * - `visible`: the tenant whose records it reads, or null for every tenant: a key with the
 *   `admin` scope (narrowed by its optional ?tenant= filter), or anyone while auth is off.
 */
export interface TenantScope {
  tenant: string;
  visible: string | null;
  admin: boolean;
}

/** The tenant scope of a request (see TenantScope); an admin's `?tenant=` narrows what it sees. */
export function tenantScopeOf(request: FastifyRequest): TenantScope {
  const principal = request.principal;
  if (!principal) return { tenant: ANONYMOUS_TENANT, visible: null, admin: true };
  if (principal.scopes.includes('admin')) {
    const filter = (request.query as Record<string, unknown> | undefined)?.tenant;
    return { tenant: principal.tenant, visible: typeof filter === 'string' ? filter : null, admin: true };
  }
  const filter = (request.query as Record<string, unknown> | undefined)?.tenant;
  if (filter !== undefined && filter !== principal.tenant) {
    throw new ApiError(HttpStatus.FORBIDDEN, 'Only a key with the admin scope may choose another tenant');
  }
  return { tenant: principal.tenant, visible: principal.tenant, admin: false };
}

export const CallerScope = createParamDecorator((_data: unknown, ctx: ExecutionContext): TenantScope =>
  tenantScopeOf(ctx.switchToHttp().getRequest<FastifyRequest>()),
);
