import { AppConfig } from '@app/platform';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';
import { sleep } from '../retry/backoff';
import { LlmBudgetDeferral } from './llm.errors';
import { slowDownMs, type RateLimitState } from './rate-limit-headers';

/**
 * GCRA with no burst, as a reservation: the call may go at `at` = the latest of now, the shared
 * pause and each budget's theoretical arrival time (TAT), which then moves one call's cost past
 * `at`. Every worker asks the same keys, with Redis's clock, so the calls of all replicas are
 * spaced evenly at the budget's rate, and a caller is told its own time instead of polling.
 * A wait beyond ARGV[3] reserves nothing.
 * KEYS: requests TAT, tokens TAT, pause-until. ARGV: ms per request (0: no request budget), ms
 * for this call's tokens (0: no token budget), max wait ms. Returns {1 | 0, wait ms, at (Redis ms)}.
 */
const RESERVE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = now
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > at then at = pause end
local perRequest = tonumber(ARGV[1])
local tokenCost = tonumber(ARGV[2])
if perRequest > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat > at then at = tat end
end
if tokenCost > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat > at then at = tat end
end
local wait = math.ceil(at - now)
if wait > tonumber(ARGV[3]) then return {0, wait, math.floor(at)} end
if perRequest > 0 then
  redis.call('SET', KEYS[1], string.format('%.3f', at + perRequest), 'PX', math.ceil(wait + perRequest) + 60000)
end
if tokenCost > 0 then
  redis.call('SET', KEYS[2], string.format('%.3f', at + tokenCost), 'PX', math.ceil(wait + tokenCost) + 60000)
end
return {1, wait, math.floor(at)}`;

/** Gives back the unused part of a token reservation. KEYS: tokens TAT. ARGV: ms to give back. */
const REFUND_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBYFLOAT', KEYS[1], '-' .. ARGV[1]) end
return 1`;

/** No call of any worker starts before now + ARGV[1] ms (a later pause already set stands). KEYS: pause-until. */
const PAUSE_LUA = `
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', untilMs), 'PX', ARGV[1])
end
return untilMs`;

/** What "wait however long it takes" reserves at most: a day. */
const UNBOUNDED_WAIT_MS = 24 * 3600 * 1000;

interface BudgetRedis extends Redis {
  reserveLlmBudget(
    requests: string,
    tokens: string,
    pause: string,
    perRequestMs: number,
    tokenCostMs: number,
    maxWaitMs: number,
  ): Promise<[number, number, number]>;
  refundLlmBudget(tokens: string, ms: number): Promise<number>;
  pauseLlmBudget(pause: string, ms: number): Promise<number>;
}

/** Tokens a request will count for before its answer is known: its text at ~4 characters a token, plus max_tokens. */
export function estimateRequestTokens(chars: number, maxTokens: number): number {
  return Math.ceil(chars / 4) + maxTokens;
}

/** A call's place in the budget; settle it with the tokens the answer reported. */
export interface BudgetReservation {
  /** When the call may go by Redis's clock (ms); null without a shared budget. */
  readonly at: number | null;
  readonly waitMs: number;
  settle(usedTokens: number | null): void;
}

/**
 * The provider budget shared by every worker of an endpoint (LLM_MAX_REQUESTS_PER_MINUTE,
 * LLM_MAX_TOKENS_PER_MINUTE), and the pauses the provider asks for (429 Retry-After; remaining
 * requests or tokens running low). Without a budget there is no Redis round trip: pauses then hold
 * this process's calls only. A call that would wait longer than LLM_BUDGET_MAX_WAIT_MS is not
 * made: LlmBudgetDeferral puts its job back in the queue for that long, without spending an
 * attempt; waiting never touches the breaker, whose clock starts when the call does.
 */
export class LlmBudget implements OnApplicationShutdown {
  private readonly logger = new Logger(LlmBudget.name);
  private readonly redis: BudgetRedis | null = null;
  private readonly keys: { requests: string; tokens: string; pause: string };
  private readonly perRequestMs: number;
  private readonly perTokenMs: number;
  private readonly maxWaitMs: number;
  private pausedUntil = 0;
  private readonly waits: Histogram;
  private readonly pauses: Counter<'reason'>;

  constructor(config: AppConfig, endpoint: string, registry: Registry) {
    const rpm = config.get('LLM_MAX_REQUESTS_PER_MINUTE');
    const tpm = config.get('LLM_MAX_TOKENS_PER_MINUTE');
    this.perRequestMs = rpm > 0 ? 60000 / rpm : 0;
    this.perTokenMs = tpm > 0 ? 60000 / tpm : 0;
    this.maxWaitMs = config.get('LLM_BUDGET_MAX_WAIT_MS');
    // One hash tag: the script's keys live in one Redis Cluster slot.
    const base = `${config.get('QUEUE_PREFIX')}:{llm-budget:${endpoint}}`;
    this.keys = { requests: `${base}:requests`, tokens: `${base}:tokens`, pause: `${base}:pause` };
    if (rpm > 0 || tpm > 0) {
      const reconnectMax = config.get('WORKER_REDIS_RECONNECT_MAX_MS');
      this.redis = new Redis(config.get('REDIS_URL'), {
        enableAutoPipelining: true,
        maxRetriesPerRequest: 1,
        retryStrategy: (times: number) => Math.min(50 * 2 ** times, reconnectMax),
      }) as BudgetRedis;
      this.redis.defineCommand('reserveLlmBudget', { numberOfKeys: 3, lua: RESERVE_LUA });
      this.redis.defineCommand('refundLlmBudget', { numberOfKeys: 1, lua: REFUND_LUA });
      this.redis.defineCommand('pauseLlmBudget', { numberOfKeys: 1, lua: PAUSE_LUA });
      this.redis.on('error', () => undefined); // a failed reservation reports it
    }
    this.waits = new Histogram({
      name: 'llm_budget_wait_seconds',
      help: 'Time an LLM call waited for the provider budget or a pause before it was made.',
      buckets: [0, 0.05, 0.25, 1, 5, 15, 30, 60],
      registers: [registry],
    });
    this.pauses = new Counter({
      name: 'llm_rate_limit_pauses_total',
      help: 'Pauses of every LLM call the provider asked for: rate_limited (a 429), running_low (x-ratelimit-remaining-*).',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  get shared(): boolean {
    return this.redis !== null;
  }

  /**
   * Waits until the call may go (budget and pauses), or throws LlmBudgetDeferral when that is
   * further away than LLM_BUDGET_MAX_WAIT_MS and `deferOnLongWait`. `tokens` is the call's estimate.
   */
  async acquire(tokens: number, deferOnLongWait = true): Promise<BudgetReservation> {
    const maxWaitMs = deferOnLongWait ? this.maxWaitMs : UNBOUNDED_WAIT_MS;
    const localWait = Math.max(0, this.pausedUntil - Date.now());
    let wait = localWait;
    let at: number | null = null;
    const tokenCostMs = tokens * this.perTokenMs;
    if (this.redis) {
      const [granted, sharedWait, sharedAt] = await this.redis.reserveLlmBudget(
        this.keys.requests,
        this.keys.tokens,
        this.keys.pause,
        this.perRequestMs,
        tokenCostMs,
        Math.max(0, maxWaitMs - localWait),
      );
      if (!granted) throw new LlmBudgetDeferral(sharedWait + localWait);
      wait = Math.max(localWait, sharedWait);
      at = sharedAt;
    } else if (wait > maxWaitMs) {
      throw new LlmBudgetDeferral(wait);
    }
    this.waits.observe(wait / 1000);
    if (wait > 0) await sleep(wait);
    return {
      at,
      waitMs: wait,
      settle: (usedTokens) => {
        if (!this.redis || !this.perTokenMs || usedTokens === null || usedTokens >= tokens) return;
        this.redis
          .refundLlmBudget(this.keys.tokens, (tokens - usedTokens) * this.perTokenMs)
          .catch((err: Error) => this.logger.debug({ err: err.message }, 'could not refund unused tokens'));
      },
    };
  }

  /**
   * The provider answered 429 with a Retry-After: no call (of any worker, with a budget) before
   * it. Without one there is nothing to honour: the call's own retry backoff applies. Resolves once
   * the shared pause is written; callers need not wait for it.
   */
  rateLimited(retryAfterMs: number | null): Promise<void> {
    return retryAfterMs && retryAfterMs > 0 ? this.pause(retryAfterMs, 'rate_limited') : Promise.resolve();
  }

  /** A successful answer's x-ratelimit-* headers: slow down when what remains runs low. */
  observe(state: RateLimitState | undefined, callTokens: number): Promise<void> {
    const ms = state ? slowDownMs(state, callTokens) : 0;
    return ms > 0 ? this.pause(ms, 'running_low') : Promise.resolve();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  private async pause(ms: number, reason: 'rate_limited' | 'running_low'): Promise<void> {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
    this.pauses.inc({ reason });
    await this.redis
      ?.pauseLlmBudget(this.keys.pause, Math.ceil(ms))
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'could not share the pause'));
  }
}
