import { ApiError, AppConfig } from '@app/platform';
import { HttpStatus, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';

export const WAITER_RETRY_AFTER_S = 1;

/** Gives back one waiter's place; calling it again does nothing. */
export type ReleaseWaiter = () => void;

/**
 * The places a replica has for requests that wait on a task (long-polls, and any stream that
 * follows a task): LONG_POLL_MAX_WAITERS at once. They do not count against MAX_IN_FLIGHT (a
 * waiter holds no database connection while it waits), so without this bound nothing would stop
 * clients from holding sockets, timers and subscriptions without limit. Taken after
 * authentication (in the handler), so an unauthenticated request never holds a place.
 */
@Injectable()
export class WaiterBudget {
  readonly max: number;
  private waiting = 0;
  private readonly refused: Counter;

  constructor(config: AppConfig, registry: Registry) {
    this.max = config.get('LONG_POLL_MAX_WAITERS');
    const budget = () => ({ waiting: this.waiting, max: this.max });
    new Gauge({
      name: 'task_waiters',
      help: 'Requests waiting on a task now (long-polls), counted against LONG_POLL_MAX_WAITERS.',
      registers: [registry],
      collect() {
        this.set(budget().waiting);
      },
    });
    new Gauge({
      name: 'task_waiters_max',
      help: 'LONG_POLL_MAX_WAITERS of this replica.',
      registers: [registry],
      collect() {
        this.set(budget().max);
      },
    });
    this.refused = new Counter({
      name: 'task_waiters_refused_total',
      help: 'Long-polls answered 503 at once because LONG_POLL_MAX_WAITERS were already waiting.',
      registers: [registry],
    });
  }

  get inUse(): number {
    return this.waiting;
  }

  /** Takes a place, or throws a 503 with Retry-After when all are taken. */
  acquire(): ReleaseWaiter {
    if (this.waiting >= this.max) {
      this.refused.inc();
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        `This replica already holds its maximum of ${this.max} waiting requests; retry after ${WAITER_RETRY_AFTER_S} s, or ask without wait`,
        undefined,
        WAITER_RETRY_AFTER_S,
      );
    }
    this.waiting++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.waiting--;
    };
  }
}
