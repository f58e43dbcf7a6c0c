import { Injectable, Optional } from '@nestjs/common';
import { Pool } from 'pg';
import { Gauge, Registry } from 'prom-client';

/**
 * The app's SQL pool (createSqlPool: every task statement, so every hot path), read at scrape
 * time (nothing on the query path): connections open, idle, and callers waiting for one.
 * `waiting` > 0 for long means the pool is the bottleneck; requests then fail after
 * DB_POOL_ACQUIRE_TIMEOUT_MS with a 503. TypeORM's pool (personas, posts, readiness; the rest of
 * DB_POOL_MAX, see splitPoolSize) is not reported: TypeORM does not expose it.
 * Registered by DbModule; needs the app's Registry (MetricsModule) and is inert without one.
 */
@Injectable()
export class DbPoolMetrics {
  constructor(pool: Pool, @Optional() registry?: Registry) {
    if (!registry) return;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    gauge('db_pool_connections', 'SQL pool: connections open (busy + idle).', () => pool.totalCount);
    gauge(
      'db_pool_idle_connections',
      'SQL pool: open connections not serving a query.',
      () => pool.idleCount,
    );
    gauge(
      'db_pool_waiting_clients',
      'SQL pool: callers waiting for a free connection.',
      () => pool.waitingCount,
    );
    gauge(
      'db_pool_max_connections',
      "SQL pool: its size, DB_POOL_MAX less TypeORM's share.",
      () => pool.options.max ?? 0,
    );
  }
}
