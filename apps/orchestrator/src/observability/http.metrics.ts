import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';

/** Route label for requests that matched no route (404s), so scanners cannot explode the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The orchestrator's HTTP-level counters and the duration histogram. In-flight gauges belong to
 * the LoadShedder, which keeps plain integers and publishes them at scrape time.
 */
@Injectable()
export class HttpMetrics {
  readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  readonly shed: Counter;
  readonly rateLimited: Counter<'tier' | 'window'>;
  readonly limiterStorageErrors: Counter;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route pattern (not raw URL), method and status.',
      labelNames: ['method', 'route', 'status_code'],
      // Around the targets: p95 well under 100 ms for the API; long-polls land in the top buckets.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.shed = new Counter({
      name: 'http_requests_shed_total',
      help: 'Requests answered 503 at once because MAX_IN_FLIGHT requests were already being served.',
      registers: [registry],
    });
    this.rateLimited = new Counter({
      name: 'http_requests_rate_limited_total',
      help: 'Requests answered 429 by the rate limiter, by tier and window (burst or sustained).',
      labelNames: ['tier', 'window'],
      registers: [registry],
    });
    this.limiterStorageErrors = new Counter({
      name: 'rate_limiter_storage_errors_total',
      help: 'Rate-limit checks that Redis did not answer in time; each such request was let through (fail-open).',
      registers: [registry],
    });
  }
}
