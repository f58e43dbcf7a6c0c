import { findApiKeyByHash, touchApiKey, type ApiKeyRecord } from '@app/db';
import { AppConfig, type Principal } from '@app/platform';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { Pool } from 'pg';

interface Entry {
  /** Null: no active key has this hash (a negative entry). */
  principal: Principal | null;
  /** When the cached answer must be checked again (API_KEY_CACHE_TTL_MS). */
  recheckAt: number;
  /** When the secret itself stops working (expiry, end of a rotation's grace); Infinity: never. */
  validUntil: number;
}

/** Entries held at most; past it the cache starts over (bounds memory against key guessing). */
const MAX_ENTRIES = 50_000;
/** last_used_at is written at most this often per key (and the statement re-checks it). */
const TOUCH_EVERY_MS = 60_000;

/** The pub/sub channel every replica listens on for revoked and rotated keys' hashes. */
export function apiKeyInvalidationChannel(prefix: string): string {
  return `${prefix}:api-keys:invalidate`;
}

/**
 * Postgres-managed API keys, cached per replica so authentication costs no query per request:
 * - a known key's principal and an unknown key's absence are both kept API_KEY_CACHE_TTL_MS
 *   (at most 2 s), so a stream of requests with guessed or revoked keys reaches Postgres at
 *   most once per distinct key per TTL per replica, and concurrent look-ups of one key share
 *   one query;
 * - a revocation or rotation publishes the hashes it affects on Redis and every replica drops
 *   them at once; a lost message (Redis down) is covered by the TTL;
 * - a secret's own end (expiry, a rotation's grace) is cached with it and enforced to the
 *   millisecond, whatever the TTL.
 */
@Injectable()
export class ApiKeyCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyCache.name);
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private readonly touched = new Map<string, number>();
  private subscriber: Redis | null = null;
  private publisher: Redis | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.get('API_KEYS').length === 0) return; // auth off: keys are never looked up
    const channel = apiKeyInvalidationChannel(this.config.get('QUEUE_PREFIX'));
    this.subscriber = this.redis('orchestrator-api-keys-sub');
    this.subscriber.on('message', (_channel: string, message: string) => this.drop(message.split(',')));
    // After a reconnect the subscription is restored by ioredis; what was published meanwhile
    // is lost, so everything cached is re-checked.
    this.subscriber.on('ready', () => this.entries.clear());
    this.subscriber.subscribe(channel).catch((err: Error) => {
      this.logger.warn(
        { err: err.message },
        'API key invalidations unavailable; the cache TTL bounds staleness',
      );
    });
  }

  // A connected client quits (and is waited for, so a closed app leaves no socket behind); one
  // that is not connected is dropped at once, so a Redis outage cannot hold up the shutdown.
  async onApplicationShutdown(): Promise<void> {
    const connections = [this.subscriber, this.publisher].filter((r): r is Redis => r !== null);
    this.subscriber = this.publisher = null;
    await Promise.all(
      connections.map(async (r) => {
        if (r.status === 'ready') await r.quit().catch(() => r.disconnect());
        else r.disconnect();
      }),
    );
  }

  /** The principal of an active key with this secret's hash (hex), or null. */
  async lookup(sha256: string): Promise<Principal | null> {
    const now = Date.now();
    const entry = this.entries.get(sha256);
    if (entry && now < entry.recheckAt) {
      if (entry.principal === null || now >= entry.validUntil) return null;
      this.touch(entry.principal.id, now);
      return entry.principal;
    }
    let pending = this.inFlight.get(sha256);
    if (!pending) {
      pending = this.load(sha256).finally(() => this.inFlight.delete(sha256));
      this.inFlight.set(sha256, pending);
    }
    const principal = await pending;
    if (principal) this.touch(principal.id, Date.now());
    return principal;
  }

  /** Tells every replica (this one included) to forget these hashes now. */
  async invalidate(sha256s: string[]): Promise<void> {
    this.drop(sha256s);
    if (this.config.get('API_KEYS').length === 0) return;
    this.publisher ??= this.redis('orchestrator-api-keys-pub');
    try {
      await this.publisher.publish(
        apiKeyInvalidationChannel(this.config.get('QUEUE_PREFIX')),
        sha256s.join(','),
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not publish an API key invalidation');
    }
  }

  private async load(sha256: string): Promise<Principal | null> {
    const match = await findApiKeyByHash(this.pool, { sha256 });
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const principal = match ? principalOf(match.key) : null;
    this.entries.set(sha256, {
      principal,
      recheckAt: Date.now() + this.config.get('API_KEY_CACHE_TTL_MS'),
      validUntil: match?.validUntil ? match.validUntil.getTime() : Infinity,
    });
    return principal;
  }

  private drop(sha256s: string[]): void {
    for (const hash of sha256s) this.entries.delete(hash);
  }

  private touch(id: string, now: number): void {
    const last = this.touched.get(id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    if (this.touched.size >= MAX_ENTRIES) this.touched.clear();
    this.touched.set(id, now);
    touchApiKey(this.pool, { id }).catch((err: Error) =>
      this.logger.warn({ err: err.message }, 'could not record an API key use'),
    );
  }

  private redis(connectionName: string): Redis {
    const redis = new Redis(this.config.get('REDIS_URL'), { maxRetriesPerRequest: 1, connectionName });
    redis.on('error', (err) => this.logger.warn({ err: err.message }, 'API key cache Redis error'));
    return redis;
  }
}

export function principalOf(key: ApiKeyRecord): Principal {
  return Object.freeze({
    id: key.id,
    name: key.name,
    tenant: key.tenant,
    tier: key.tier,
    scopes: Object.freeze([...key.scopes]),
  });
}
