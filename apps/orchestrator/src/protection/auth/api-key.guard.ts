import { IS_PUBLIC_ROUTE, type ApiScope } from '@app/platform';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiKeyRegistry } from './api-key.registry';
import { REQUIRED_SCOPES } from './scopes.decorator';

/**
 * Global guard, registered before the rate limiter so the limiter can count per API key.
 * Every route needs a valid key (when keys are configured) unless it is @Public(); a route's
 * @RequireScopes lists what the key must hold.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.keys.enabled) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_ROUTE, targets)) return true;
    const scopes = this.reflector.getAllAndOverride<ApiScope[]>(REQUIRED_SCOPES, targets) ?? [];
    const refusal = await this.keys.authorize(context.switchToHttp().getRequest<FastifyRequest>(), scopes);
    if (refusal) throw refusal;
    return true;
  }
}
