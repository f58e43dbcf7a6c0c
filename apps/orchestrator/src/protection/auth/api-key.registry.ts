import { ApiError, AppConfig, type ApiScope, type Principal } from '@app/platform';
import { HttpStatus, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiKeyCache } from './api-key.cache';

export const API_KEY_HEADER = 'x-api-key';

interface KnownKey {
  hash: Buffer;
  principal: Principal;
}

/**
 * Authentication: the bootstrap keys from API_KEYS, then the keys managed in Postgres (through
 * ApiKeyCache, no query per request). Only SHA-256 hashes are held; a presented key is hashed
 * and compared with every configured hash in constant time (no early exit), so neither the
 * secret nor the position of a match leaks through timing. The key itself is never stored,
 * logged or put in an error message.
 */
@Injectable()
export class ApiKeyRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeyRegistry.name);
  private readonly keys: KnownKey[];

  constructor(
    config: AppConfig,
    private readonly managed: ApiKeyCache,
  ) {
    this.keys = config.get('API_KEYS').map((key) => ({
      hash: Buffer.from(key.sha256, 'hex'),
      principal: Object.freeze({
        id: `env:${key.name}`,
        name: key.name,
        // Without a tenant a bootstrap key is its own tenant: the client_id its tasks carried
        // before tenants existed, which the migration made their tenant.
        tenant: key.tenant ?? key.name,
        tier: key.tier,
        scopes: Object.freeze([...key.scopes]),
      }),
    }));
  }

  /** Auth is on as soon as one bootstrap key is configured (production refuses to start without one). */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) {
      this.logger.warn(
        'AUTHENTICATION IS OFF: API_KEYS is empty, so every /v1 route and /admin/queues is open to anyone ' +
          'who can reach this port. Fine for local development only; NODE_ENV=production refuses to start like this.',
      );
    }
  }

  /**
   * Authenticates the request's X-API-Key and checks it holds every scope in `required`.
   * Sets `request.principal` on success; returns the 401/403 to answer otherwise.
   * With auth off it lets everything through and leaves the principal unset (anonymous).
   */
  async authorize(request: FastifyRequest, required: readonly ApiScope[]): Promise<ApiError | null> {
    if (!this.enabled) return null;
    const header = request.headers[API_KEY_HEADER];
    if (header === undefined || header === '') {
      return new ApiError(HttpStatus.UNAUTHORIZED, 'Missing API key: send it in the X-API-Key header');
    }
    const principal = typeof header === 'string' ? await this.lookup(header) : null;
    if (!principal) return new ApiError(HttpStatus.UNAUTHORIZED, 'Invalid API key');
    request.principal = principal;
    const missing = required.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      return new ApiError(
        HttpStatus.FORBIDDEN,
        `API key "${principal.name}" lacks the scope ${missing.join(', ')} that this route needs`,
      );
    }
    return null;
  }

  private async lookup(presented: string): Promise<Principal | null> {
    const hash = createHash('sha256').update(presented, 'utf8').digest();
    let found: Principal | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(hash, key.hash)) found = key.principal;
    }
    return found ?? (await this.managed.lookup(hash.toString('hex')));
  }
}
