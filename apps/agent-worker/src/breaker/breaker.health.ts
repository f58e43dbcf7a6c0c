import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CircuitBreakerService } from './circuit-breakers.service';

/**
 * The circuit breakers in readiness. An open breaker is "degraded", not "down": the worker
 * process and its own dependencies are fine, it is deliberately holding jobs back. Reporting it
 * down would make Kubernetes pull every worker at once for a downstream outage they cannot fix.
 */
@Injectable()
export class BreakerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly breakers: CircuitBreakerService,
  ) {}

  check(key: string): HealthIndicatorResult {
    const breakers = this.breakers.snapshots();
    return this.indicators.check(key).up({
      degraded: breakers.some((b) => b.state !== 'closed'),
      breakers: Object.fromEntries(
        breakers.map((b) => [
          b.name,
          { state: b.state, fires: b.fires, failures: b.failures, rejects: b.rejects },
        ]),
      ),
    });
  }
}
