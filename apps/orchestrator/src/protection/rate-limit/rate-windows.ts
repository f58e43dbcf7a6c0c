import type { ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';

/** The record a ThrottlerStorage returns (the library's public entry exports the storage, not the record type). */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

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

/** What Redis answered for one window: its count after the hits were added, and when it ends. */
export interface WindowCount {
  totalHits: number;
  msToExpire: number;
  blocked: boolean;
  msToBlockExpire: number;
}

/*
 * Every window of a request in one atomic script, one round trip. Per window: add its hits, start
 * the window on its first hit, and refuse for blockDuration once a hit would pass the limit. It
 * stops at the first window that refuses, so a request refused by the burst window is not counted
 * in the sustained one. Adapted from @nest-lab/throttler-storage-redis (itself from
 * rate-limit-redis), which runs one EVAL of the full script text per window.
 * KEYS: hits and blocked key per window; ARGV: ttl, limit, blockDuration (ms) and the number of hits
 * to add (1 for one request, more for a lease: see LeaseBook), per window.
 * Returns totalHits, msToExpire, blocked (0/1), msToBlockExpire per window it looked at.
 */
const WINDOWS_LUA = `
local out = {}
for i = 1, #KEYS / 2 do
  local hitKey, blockKey = KEYS[2 * i - 1], KEYS[2 * i]
  local ttl, limit = tonumber(ARGV[4 * i - 3]), tonumber(ARGV[4 * i - 2])
  local blockDuration, n = tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
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

/** Defines the script on a connection once (ioredis sends EVALSHA, and the text only when Redis lacks it). */
export function defineWindowsScript(redis: Redis): void {
  redis.defineCommand('rateLimitWindows', { lua: WINDOWS_LUA });
}

/**
 * Adds `hits[i]` to window i of `tracker`, in order, in one round trip. Windows asked for 0 hits are
 * not sent. The result is aligned with `windows`: undefined for a window not sent, or not reached
 * because an earlier one refused.
 */
export async function countWindows(
  redis: Redis,
  tracker: string,
  windows: readonly RateWindow[],
  hits: readonly number[],
): Promise<(WindowCount | undefined)[]> {
  const sent = windows.map((_, i) => i).filter((i) => hits[i] > 0);
  // One hash tag per client: all of a request's keys live in one Redis Cluster slot.
  const keys = sent.flatMap((i) => [
    `{${tracker}}:${windows[i].name}:hits`,
    `{${tracker}}:${windows[i].name}:blocked`,
  ]);
  const args = sent.flatMap((i) => [windows[i].ttlMs, windows[i].limit, windows[i].blockDurationMs, hits[i]]);
  const raw = await redis.rateLimitWindows(keys.length, ...keys, ...args);
  const counts: (WindowCount | undefined)[] = windows.map(() => undefined);
  for (let j = 0; 4 * j + 3 < raw.length; j++) {
    counts[sent[j]] = {
      totalHits: raw[4 * j],
      msToExpire: raw[4 * j + 1],
      blocked: raw[4 * j + 2] === 1,
      msToBlockExpire: raw[4 * j + 3],
    };
  }
  return counts;
}

/** The record @nestjs/throttler expects; times in ms, rounded up to whole seconds. */
export function windowRecord(
  window: RateWindow,
  totalHits: number,
  msToExpire: number,
  blocked = false,
  msToBlockExpire = 0,
): WindowRecord {
  return {
    window,
    totalHits,
    timeToExpire: Math.ceil(msToExpire / 1000),
    isBlocked: blocked,
    timeToBlockExpire: Math.ceil(msToBlockExpire / 1000),
  };
}
