import { AppConfig, withTimeout } from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import Redis, { type Result } from 'ioredis';
import { HttpMetrics } from '../../observability/http.metrics';

/** A storage failure this recent shows as "degraded" in readiness. */
const DEGRADED_FOR_MS = 10_000;
const LOG_EVERY_MS = 10_000;
const BOOT_WAIT_MS = 1000;

export interface LimiterStatus {
  degraded: boolean;
  lastError?: string;
  lastErrorAgoMs?: number;
}

/** One fixed window a request must fit in (e.g. burst: 50 per 1000 ms). */
export interface RateWindow {
  name: string;
  ttlMs: number;
  limit: number;
  blockDurationMs: number;
}

/** A window's count after this request; times in whole seconds, as in @nestjs/throttler's records. */
export interface WindowRecord extends ThrottlerStorageRecord {
  window: RateWindow;
}

/**
 * Share of a window's limit one replica takes from Redis at a time when the limit is large (the
 * loadtest tier: 100,000 per second). Below two requests per lease, every request is counted in
 * Redis on its own, so the default tier (50 per second) stays exact.
 */
export const LEASE_SHARE = 0.01;

/** Requests this replica may admit without Redis, for one client and set of windows. */
interface Lease {
  granted: number;
  used: number;
  /** The lease ends with the first of its windows. */
  until: number;
  /** Per window: hits counted before this lease, and when the window ends (ms since epoch). */
  windows: { record: WindowRecord; hitsBefore: number; endsAt: number }[];
}

/** Past this many clients holding leases, ended leases are swept when a new one is taken. */
const SWEEP_LEASES_ABOVE = 1000;

/*
 * Every window of a request in one atomic script, one round trip. Per window: count the hits, start
 * the window on its first hit, and refuse for blockDuration once a hit would pass the limit. It
 * stops at the first window that refuses, so a request refused by the burst window is not counted
 * in the sustained one. Adapted from @nest-lab/throttler-storage-redis (itself from
 * rate-limit-redis), which runs one EVAL of the full script text per window.
 * KEYS: hits and blocked key per window; ARGV: ttl, limit, blockDuration (ms) per window, then the
 * number of hits to count (1 for one request, more for a lease: see LimiterStorage).
 * Returns totalHits, msToExpire, blocked (0/1), msToBlockExpire per window it looked at.
 */
const WINDOWS_LUA = `
local out = {}
local n = tonumber(ARGV[#ARGV])
for i = 1, #KEYS / 2 do
  local hitKey, blockKey = KEYS[2 * i - 1], KEYS[2 * i]
  local ttl, limit, blockDuration = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local hits = redis.call('INCRBY', hitKey, n)
  local expire = redis.call('PTTL', hitKey)
  if expire <= 0 then
    redis.call('PEXPIRE', hitKey, ttl)
    expire = ttl
  end
  local blocked = 0
  local blockExpire = 0
  if redis.call('EXISTS', blockKey) == 1 then
    blockExpire = redis.call('PTTL', blockKey)
    if blockExpire > 0 then
      blocked = 1
    else
      redis.call('DEL', blockKey)
      redis.call('SET', hitKey, n, 'PX', ttl)
      hits, expire, blockExpire = n, ttl, 0
    end
  elseif hits - n >= limit then
    redis.call('SET', blockKey, 1, 'PX', blockDuration)
    blocked, blockExpire = 1, blockDuration
  end
  out[#out + 1] = hits
  out[#out + 1] = expire
  out[#out + 1] = blocked
  out[#out + 1] = blockExpire
  if blocked == 1 then break end
end
return out`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rateLimitWindows(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number[], Context>;
  }
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
  private readonly leases = new Map<string, Lease>();
  private readonly acquiring = new Map<string, Promise<void>>();

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
    this.redis.defineCommand('rateLimitWindows', { lua: WINDOWS_LUA });
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
   * Large limits are leased: the replica counts LEASE_SHARE of the smallest limit in Redis at once
   * and admits that many requests locally until the lease is spent or its shortest window ends.
   * Replicas never admit more than the limit together; a lease left unspent when its window ends
   * only makes the others refuse a little early (at most LEASE_SHARE of the limit per replica).
   */
  async incrementWindows(tracker: string, windows: readonly RateWindow[]): Promise<WindowRecord[]> {
    const size = Math.floor(Math.min(...windows.map((w) => w.limit)) * LEASE_SHARE);
    if (size < 2) return (await this.count(tracker, windows, 1)).records;

    const key = `${tracker}|${windows.map((w) => `${w.name}:${w.limit}:${w.ttlMs}`).join('|')}`;
    const leased = this.takeFromLease(key);
    if (leased) return leased;
    // One lease at a time per client: requests arriving meanwhile wait for it, and count on their
    // own (exactly, as without leases) if it brought nothing (refused, or Redis failing).
    const pending = this.acquiring.get(key);
    if (pending) {
      await pending;
      return this.takeFromLease(key) ?? (await this.count(tracker, windows, 1)).records;
    }
    const acquisition = this.acquireLease(key, tracker, windows, size);
    this.acquiring.set(
      key,
      acquisition.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      return await acquisition;
    } finally {
      this.acquiring.delete(key);
    }
  }

  /** This request's records from a live lease, or null when there is none left. */
  private takeFromLease(key: string): WindowRecord[] | null {
    const lease = this.leases.get(key);
    if (!lease) return null;
    const now = Date.now();
    if (lease.used >= lease.granted || now >= lease.until) {
      this.leases.delete(key);
      return null;
    }
    lease.used++;
    return lease.windows.map(({ record, hitsBefore, endsAt }) => ({
      ...record,
      totalHits: hitsBefore + lease.used,
      timeToExpire: Math.ceil((endsAt - now) / 1000),
    }));
  }

  /** Counts `size` hits at once; keeps what fits under every limit as a lease, this request taking the first. */
  private async acquireLease(
    key: string,
    tracker: string,
    windows: readonly RateWindow[],
    size: number,
  ): Promise<WindowRecord[]> {
    const now = Date.now();
    const { records, msToExpire, counted } = await this.count(tracker, windows, size);
    if (!counted || records.length < windows.length || records.some((r) => r.isBlocked)) return records;
    // The script refused none, so every window had room for at least the first of these hits.
    const granted = Math.min(size, ...records.map((r) => r.window.limit - (r.totalHits - size)));
    if (this.leases.size >= SWEEP_LEASES_ABOVE) {
      for (const [k, lease] of this.leases) if (now >= lease.until) this.leases.delete(k);
    }
    this.leases.set(key, {
      granted,
      used: 1,
      until: now + Math.min(...msToExpire),
      windows: records.map((record, i) => ({
        record,
        hitsBefore: record.totalHits - size,
        endsAt: now + msToExpire[i],
      })),
    });
    return records.map((r) => ({ ...r, totalHits: r.totalHits - size + 1 }));
  }

  /** One script call counting `hits` in each window; `counted` is false when Redis failed (fail-open). */
  private async count(
    tracker: string,
    windows: readonly RateWindow[],
    hits: number,
  ): Promise<{ records: WindowRecord[]; msToExpire: number[]; counted: boolean }> {
    // One hash tag per client: all of a request's keys live in one Redis Cluster slot.
    const keys = windows.flatMap((w) => [`{${tracker}}:${w.name}:hits`, `{${tracker}}:${w.name}:blocked`]);
    const args = windows.flatMap((w) => [w.ttlMs, w.limit, w.blockDurationMs]);
    let raw: number[];
    try {
      raw = await this.redis.rateLimitWindows(keys.length, ...keys, ...args, hits);
    } catch (err) {
      this.metrics.limiterStorageErrors.inc();
      this.noteFailure(err as Error);
      const records = windows.map((window) => ({
        window,
        totalHits: 0,
        timeToExpire: Math.ceil(window.ttlMs / 1000),
        isBlocked: false,
        timeToBlockExpire: 0,
      }));
      return { records, msToExpire: windows.map((w) => w.ttlMs), counted: false };
    }
    const records: WindowRecord[] = [];
    const msToExpire: number[] = [];
    for (let i = 0; i + 3 < raw.length; i += 4) {
      records.push({
        window: windows[i / 4],
        totalHits: raw[i],
        timeToExpire: Math.ceil(raw[i + 1] / 1000),
        isBlocked: raw[i + 2] === 1,
        timeToBlockExpire: Math.ceil(raw[i + 3] / 1000),
      });
      msToExpire.push(raw[i + 1]);
    }
    return { records, msToExpire, counted: true };
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
