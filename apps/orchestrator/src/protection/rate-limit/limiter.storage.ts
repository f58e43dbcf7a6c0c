import { AppConfig, withTimeout } from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { HttpMetrics } from '../../observability/http.metrics';
import { LeaseBook } from './lease-book';
import {
  countWindows,
  defineWindowsScript,
  windowRecord,
  type RateWindow,
  type ThrottlerStorageRecord,
  type WindowCount,
  type WindowRecord,
} from './rate-windows';

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
 * Rate-limit counters in Redis, so every orchestrator replica shares one count per client. All
 * windows of a request are checked by one script (EVALSHA, defined once), so the limiter costs
 * at most one Redis round trip per request, whatever the number of windows, and far fewer for a
 * large limit, which is leased (incrementWindows).
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
  private lastErrorAt = 0;
  private lastError = '';
  private lastLoggedAt = 0;
  private readonly leases = new LeaseBook();
  private readonly toppingUp = new Map<string, Promise<void>>();

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
      // Under load, the checks of concurrent requests issued in one tick go out in one write.
      enableAutoPipelining: true,
    });
    defineWindowsScript(this.redis);
    this.redis.on('error', (err: Error) => this.noteFailure(err));
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

  /**
   * Counts one request of `tracker` in each window, in order, stopping at the first window that
   * refuses it: the last record returned is then the refusing one. When Redis fails, every
   * window lets the request through (fail-open) and the failure is counted once.
   *
   * Large limits are leased (LeaseBook): the replica counts LEASE_SHARE of the smallest limit in
   * Redis at once and admits that many requests locally. Replicas never admit more than the limit
   * together; credit left unspent when its window ends only makes the others refuse a little early
   * (at most one lease per replica and window).
   */
  async incrementWindows(tracker: string, windows: readonly RateWindow[]): Promise<WindowRecord[]> {
    const size = LeaseBook.sizeFor(windows);
    if (size === 0) return this.countOne(tracker, windows);

    const client = `${tracker}|${windows.map((w) => `${w.name}:${w.limit}:${w.ttlMs}`).join('|')}`;
    const leased = this.leases.take(client, windows, Date.now());
    if (leased) return leased;
    // One top-up at a time per client: requests arriving meanwhile wait for it, and count on their
    // own (exactly, as without leases) if it left them nothing (refused, or Redis failing).
    const pending = this.toppingUp.get(client);
    if (pending) {
      await pending;
      return this.leases.take(client, windows, Date.now()) ?? (await this.countOne(tracker, windows));
    }
    const topUp = this.topUp(client, tracker, windows, size);
    this.toppingUp.set(
      client,
      topUp.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      return await topUp;
    } finally {
      this.toppingUp.delete(client);
    }
  }

  private async topUp(
    client: string,
    tracker: string,
    windows: readonly RateWindow[],
    size: number,
  ): Promise<WindowRecord[]> {
    const now = Date.now();
    const asked = this.leases.topUp(client, windows, size, now);
    const counts = await this.count(tracker, windows, asked);
    if (!counts) return failOpen(windows);
    return this.leases.settle(client, windows, asked, counts, now);
  }

  /** One request counted in Redis on its own. */
  private async countOne(tracker: string, windows: readonly RateWindow[]): Promise<WindowRecord[]> {
    const counts = await this.count(
      tracker,
      windows,
      windows.map(() => 1),
    );
    if (!counts) return failOpen(windows);
    const records: WindowRecord[] = [];
    windows.forEach((window, i) => {
      const c = counts[i];
      if (c) records.push(windowRecord(window, c.totalHits, c.msToExpire, c.blocked, c.msToBlockExpire));
    });
    return records;
  }

  /** One script call; null when Redis failed (the caller fails open). */
  private async count(
    tracker: string,
    windows: readonly RateWindow[],
    hits: readonly number[],
  ): Promise<(WindowCount | undefined)[] | null> {
    try {
      return await countWindows(this.redis, tracker, windows, hits);
    } catch (err) {
      this.metrics.limiterStorageErrors.inc();
      this.noteFailure(err as Error);
      return null;
    }
  }

  /** ThrottlerStorage's single-window form; the guard uses incrementWindows. */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const [record] = await this.incrementWindows(key, [
      { name: throttlerName, ttlMs: ttl, limit, blockDurationMs: blockDuration },
    ]);
    const { window: _window, ...rest } = record;
    return rest;
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

/** Every window lets the request through when Redis cannot count it. */
function failOpen(windows: readonly RateWindow[]): WindowRecord[] {
  return windows.map((window) => windowRecord(window, 0, window.ttlMs));
}
