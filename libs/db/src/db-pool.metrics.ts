import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { Gauge, Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/**
 * The pg pool behind the app's DataSource, read at scrape time (nothing on the query path):
 * connections open, idle, and callers waiting for one. `waiting` > 0 for long means the pool
 * is the bottleneck; requests then fail after DB_POOL_ACQUIRE_TIMEOUT_MS with a 503.
 * Registered by DbModule; needs the app's Registry (MetricsModule) and is inert without one.
 */
@Injectable()
export class DbPoolMetrics {
  constructor(@InjectDataSource() dataSource: DataSource, @Optional() registry?: Registry) {
    if (!registry) return;
    // TypeORM's Postgres driver keeps its pg Pool as `master` (no public accessor).
    const pool = (): Pool | undefined => (dataSource.driver as unknown as { master?: Pool }).master;
    const gauge = (name: string, help: string, read: (p: Pool) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const p = pool();
          if (p) this.set(read(p));
        },
      });
    gauge('db_pool_connections', 'Connections the pool holds open (busy + idle).', (p) => p.totalCount);
    gauge('db_pool_idle_connections', 'Open connections not serving a query.', (p) => p.idleCount);
    gauge('db_pool_waiting_clients', 'Callers waiting for a free connection.', (p) => p.waitingCount);
    gauge('db_pool_max_connections', 'The pool size (DB_POOL_MAX).', (p) => p.options.max ?? 0);
  }
}
