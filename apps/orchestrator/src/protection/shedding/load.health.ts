import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { LoadShedder } from './load-shedder';

/**
 * Non-critical: always `up`. A replica at MAX_IN_FLIGHT is busy, not broken; failing readiness
 * would move its load onto replicas that are just as busy. The detail shows how busy it is.
 */
@Injectable()
export class LoadHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly shedder: LoadShedder,
  ) {}

  check(key: string): HealthIndicatorResult {
    return this.indicators.check(key).up(this.shedder.snapshot());
  }
}
