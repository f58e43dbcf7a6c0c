import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { withTimeout } from '../timeout';

/** Redis answers PING within the timeout. Never throws: a failure is a `down` result with the reason. */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  async pingCheck(key: string, client: Redis, timeoutMs: number): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const started = Date.now();
    try {
      await withTimeout(client.ping(), timeoutMs, 'redis ping');
      return indicator.up({ latencyMs: Date.now() - started });
    } catch (err) {
      return indicator.down({ message: err instanceof Error ? err.message : String(err) });
    }
  }
}
