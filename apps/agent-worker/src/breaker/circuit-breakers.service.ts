import { AppConfig } from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { Counter, Gauge, Registry } from 'prom-client';

export type BreakerState = 'closed' | 'half_open' | 'open';

/** Gauge values of circuit_breaker_state. */
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

const COUNTED_EVENTS = ['success', 'failure', 'timeout', 'reject', 'open', 'halfOpen', 'close'] as const;

export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  /** Calls in the current rolling window. */
  fires: number;
  failures: number;
  rejects: number;
  timeouts: number;
}

/** The action a breaker protects: it gets its own AbortController, aborted when the call times out. */
export type AbortableAction<TA extends unknown[], TR> = (
  controller: AbortController,
  ...args: TA
) => Promise<TR>;

/**
 * Creates and keeps the process's circuit breakers (opossum 9), one per downstream endpoint, all
 * with the LLM_BREAKER_* options. Every breaker logs each state change once, exports its state
 * and events on the app's registry, and is listed in readiness.
 *
 * Timeouts abort the HTTP request itself. opossum's own `abortController` option is one
 * controller shared by every call of the breaker, so one slow call would abort all calls in
 * flight; instead each call gets a fresh controller as its first argument, and the 'timeout'
 * event (which carries the call's arguments) aborts that one.
 */
@Injectable()
export class CircuitBreakerService implements OnApplicationShutdown {
  private readonly logger = new Logger(CircuitBreakerService.name);
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly stateGauge: Gauge<'breaker'>;
  private readonly events: Counter<'breaker' | 'event'>;

  constructor(
    private readonly config: AppConfig,
    registry: Registry,
  ) {
    this.stateGauge = new Gauge({
      name: 'circuit_breaker_state',
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      labelNames: ['breaker'],
      registers: [registry],
    });
    this.events = new Counter({
      name: 'circuit_breaker_events_total',
      help: 'Circuit breaker events: success, failure, timeout, reject (failed fast while open), open, halfOpen, close.',
      labelNames: ['breaker', 'event'],
      registers: [registry],
    });
  }

  create<TA extends unknown[], TR>(
    name: string,
    action: AbortableAction<TA, TR>,
    options: { errorFilter?: (err: unknown) => boolean } = {},
  ): CircuitBreaker<[AbortController, ...TA], TR> {
    if (this.breakers.has(name)) throw new Error(`circuit breaker ${name} already exists`);
    const timeoutMs = this.config.get('LLM_BREAKER_TIMEOUT_MS');
    const breaker = new CircuitBreaker<[AbortController, ...TA], TR>(action, {
      name,
      timeout: timeoutMs,
      errorThresholdPercentage: this.config.get('LLM_BREAKER_ERROR_THRESHOLD_PERCENT'),
      resetTimeout: this.config.get('LLM_BREAKER_RESET_TIMEOUT_MS'),
      volumeThreshold: this.config.get('LLM_BREAKER_VOLUME_THRESHOLD'),
      rollingCountTimeout: this.config.get('LLM_BREAKER_ROLLING_WINDOW_MS'),
      rollingCountBuckets: this.config.get('LLM_BREAKER_ROLLING_BUCKETS'),
      // Percentiles sort every latency of the window on each failure; nothing here reads them.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: options.errorFilter,
    });

    // @types/opossum declares the 'timeout' listener with the error only; opossum 9 also passes
    // the latency and the call's arguments (lib/circuit.js, emit('timeout', error, latency, args)).
    (breaker as unknown as NodeJS.EventEmitter).on(
      'timeout',
      (err: Error, _latency: number, args: unknown[]) => {
        const controller = args[0];
        if (controller instanceof AbortController) controller.abort(err);
      },
    );
    for (const event of COUNTED_EVENTS) {
      breaker.on(event as 'success', () => this.events.inc({ breaker: name, event }));
    }
    breaker.on('open', () => {
      this.stateGauge.set({ breaker: name }, STATE_VALUE.open);
      const { fires, failures, timeouts } = breaker.stats;
      this.logger.warn(
        {
          breaker: name,
          fires,
          failures,
          timeouts,
          resetTimeoutMs: this.config.get('LLM_BREAKER_RESET_TIMEOUT_MS'),
        },
        'circuit breaker opened: calls fail fast until the reset timeout',
      );
    });
    breaker.on('halfOpen', () => {
      this.stateGauge.set({ breaker: name }, STATE_VALUE.half_open);
      this.logger.log({ breaker: name }, 'circuit breaker half-open: letting one trial call through');
    });
    breaker.on('close', () => {
      this.stateGauge.set({ breaker: name }, STATE_VALUE.closed);
      this.logger.log({ breaker: name }, 'circuit breaker closed: calls flow again');
    });
    this.stateGauge.set({ breaker: name }, STATE_VALUE.closed);
    this.breakers.set(name, breaker as unknown as CircuitBreaker);
    return breaker;
  }

  snapshots(): BreakerSnapshot[] {
    return [...this.breakers.entries()].map(([name, breaker]) => {
      const { fires, failures, rejects, timeouts } = breaker.stats;
      return { name, state: stateOf(breaker), fires, failures, rejects, timeouts };
    });
  }

  // After the worker has drained its jobs (onModuleDestroy), so no running job meets a shut breaker.
  onApplicationShutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }
}

export function stateOf(breaker: CircuitBreaker): BreakerState {
  if (breaker.opened) return 'open';
  if (breaker.halfOpen) return 'half_open';
  return 'closed';
}
