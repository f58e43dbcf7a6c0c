import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { LimiterStorage } from './limiter.storage';

/**
 * Non-critical: always `up`, since a blind limiter fails open and the API keeps serving. A
 * recent storage failure shows as `degraded: true` with the reason, for operators and alerts.
 */
@Injectable()
export class RateLimiterHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly storage: LimiterStorage,
  ) {}

  async check(key: string, enabled: boolean, timeoutMs: number): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    if (!enabled) return indicator.up({ enabled: false });
    const status = await this.storage.status(timeoutMs);
    return indicator.up({ mode: 'fail-open', ...status });
  }
}
