import { AppConfig, withTimeout } from '@app/platform';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import Redis from 'ioredis';
import { HttpMetrics } from '../observability/http.metrics';

/** A storage failure this recent shows as "degraded" in readiness. */
const DEGRADED_FOR_MS = 10_000;
const LOG_EVERY_MS = 10_000;
const BOOT_WAIT_MS = 1000;

export interface LimiterStatus {
  degraded: boolean;
  lastError?: string;
  lastErrorAgoMs?: number;
}

/**
 * Rate-limit counters in Redis (@nest-lab/throttler-storage-redis: one atomic Lua script per
 * window), so every orchestrator replica shares one count per client.
 *
 * FAIL-OPEN: when Redis does not answer within RATE_LIMIT_STORAGE_TIMEOUT_MS the request is let
 * through, counted in rate_limiter_storage_errors_total and shown as degraded in readiness.
 * Why: the limiter protects capacity, it is not a security boundary (API keys are). Redis is
 * not needed to accept a task (the row is committed first; the reconciler enqueues later), so
 * failing closed would turn a Redis blip into a full API outage. Each replica's MAX_IN_FLIGHT
 * still caps the load while the limiter is blind.
 *
 * The connection is the limiter's own: no offline queue and no retries, so a dead Redis fails a
 * check at once instead of parking it, and a hung one fails it after the timeout.
 */
@Injectable()
export class LimiterStorage implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LimiterStorage.name);
  readonly redis: Redis;
  private readonly store: ThrottlerStorageRedisService;
  private lastErrorAt = 0;
  private lastError = '';
  private lastLoggedAt = 0;

  constructor(
    config: AppConfig,
    private readonly metrics: HttpMetrics,
  ) {
    this.redis = new Redis(config.get('REDIS_URL'), {
      keyPrefix: `${config.get('QUEUE_PREFIX')}:rate-limit:`,
      connectionName: 'orchestrator-rate-limit',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.get('RATE_LIMIT_STORAGE_TIMEOUT_MS'),
      // Under load, EVALs of concurrent requests issued in one tick go out in one write.
      enableAutoPipelining: true,
    });
    this.redis.on('error', (err: Error) => this.noteFailure(err));
    this.store = new ThrottlerStorageRedisService(this.redis);
  }

  /**
   * Without an offline queue, checks made before the connection is ready would fail (open).
   * Give it a moment at boot; a Redis that is down does not stop the app from starting.
   */
  async onModuleInit(): Promise<void> {
    if (this.redis.status === 'ready') return;
    const ready = new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
    await withTimeout(ready, BOOT_WAIT_MS, 'rate-limit storage connection').catch(() => undefined);
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    try {
      return await this.store.increment(key, ttl, limit, blockDuration, throttlerName);
    } catch (err) {
      this.metrics.limiterStorageErrors.inc();
      this.noteFailure(err as Error);
      return { totalHits: 0, timeToExpire: Math.ceil(ttl / 1000), isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  /** Readiness detail: a PING within the timeout and no storage error in the last 10 s. */
  async status(timeoutMs: number): Promise<LimiterStatus> {
    try {
      await withTimeout(this.redis.ping(), timeoutMs, 'rate-limit storage ping');
    } catch (err) {
      this.noteFailure(err as Error);
    }
    const ago = Date.now() - this.lastErrorAt;
    if (this.lastErrorAt === 0 || ago > DEGRADED_FOR_MS) return { degraded: false };
    return { degraded: true, lastError: this.lastError, lastErrorAgoMs: ago };
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  private noteFailure(err: Error): void {
    const now = Date.now();
    this.lastErrorAt = now;
    this.lastError = err.message;
    if (now - this.lastLoggedAt > LOG_EVERY_MS) {
      this.lastLoggedAt = now;
      this.logger.warn({ err: err.message }, 'rate-limit storage unavailable; letting requests through');
    }
  }
}
