import {
  apiKeySha256,
  getApiKey,
  insertApiKey,
  listApiKeys,
  newApiKeySecret,
  revokeApiKey,
  rotateApiKey,
} from '@app/db';
import { ApiError, AppConfig, isUuid, newId } from '@app/platform';
import { Injectable } from '@nestjs/common';
import { Pool } from 'pg';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page, type PageQuery } from '../common/pagination';
import { ApiKeyCache } from '../protection/auth/api-key.cache';
import { ApiKeyDto, type ApiKeyWithSecretDto, type CreateApiKeyDto } from './dto/api-key.dto';

/**
 * The admin API's keys. The secret is made here, returned once, and only its SHA-256 is stored.
 * Every revocation and rotation is published to all replicas' key caches before it answers.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly pool: Pool,
    private readonly cache: ApiKeyCache,
    private readonly config: AppConfig,
  ) {}

  async create(dto: CreateApiKeyDto): Promise<ApiKeyWithSecretDto> {
    if (!(dto.tier in this.config.get('RATE_LIMIT_TIERS'))) {
      const tiers = Object.keys(this.config.get('RATE_LIMIT_TIERS')).join(', ');
      throw ApiError.validation([{ field: 'tier', reason: `tier must be one of: ${tiers}` }]);
    }
    const expiresAt = dto.expires_at !== undefined ? new Date(dto.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw ApiError.validation([{ field: 'expires_at', reason: 'expires_at must be in the future' }]);
    }
    const secret = newApiKeySecret();
    const key = await insertApiKey(this.pool, {
      id: newId(),
      tenant: dto.tenant,
      name: dto.name,
      tier: dto.tier,
      scopes: [...new Set(dto.scopes)],
      keySha256: apiKeySha256(secret),
      expiresAt,
    });
    // A replica may hold a negative entry for this hash only if someone sent it before it
    // existed; dropping it costs nothing and makes the new key work everywhere at once.
    await this.cache.invalidate([apiKeySha256(secret)]);
    return { ...ApiKeyDto.from(key), key: secret };
  }

  async list(query: PageQuery): Promise<Page<ApiKeyDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, isUuid);
    const keys = await listApiKeys(this.pool, {
      tenant: query.tenant ?? null,
      beforeId: cursor ?? undefined,
      limit: limit + 1,
    });
    return toPage(keys, limit, (k) => k.id, ApiKeyDto.from);
  }

  /** Revokes the key everywhere (both secrets, if it was rotated); repeating it is harmless. */
  async revoke(id: string): Promise<void> {
    const change = await revokeApiKey(this.pool, { id });
    if (!change) throw ApiError.notFound('API key', id);
    await this.cache.invalidate(change.sha256s);
  }

  /** A new secret; the current one keeps working for API_KEY_ROTATION_GRACE_S. */
  async rotate(id: string): Promise<ApiKeyWithSecretDto> {
    const secret = newApiKeySecret();
    const change = await rotateApiKey(this.pool, {
      id,
      sha256: apiKeySha256(secret),
      graceMs: this.config.get('API_KEY_ROTATION_GRACE_S') * 1000,
    });
    if (!change) {
      const key = await getApiKey(this.pool, { id });
      if (!key) throw ApiError.notFound('API key', id);
      throw ApiError.conflict(`API key ${id} is revoked or expired; create a new one instead`);
    }
    await this.cache.invalidate(change.sha256s);
    return { ...ApiKeyDto.from(change.key), key: secret };
  }
}
