import { AppConfig } from '@app/platform';
import { DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { buildDataSourceOptions, entities, splitPoolSize } from './data-source.options';
import { DbPoolMetrics } from './db-pool.metrics';
import { createSqlPool } from './sql-pool';

/**
 * The app's two pools on one database, together at most DB_POOL_MAX connections (splitPoolSize):
 * TypeORM's DataSource (entities, repositories, the readiness ping) and the SQL pool for the
 * hand-written task statements (inject `Pool` from 'pg'). Global, like TypeORM's own module.
 */
@Module({})
export class DbModule implements OnApplicationShutdown {
  constructor(private readonly pool: Pool) {}

  /** `app` names the connections in pg_stat_activity. */
  static forApp(app: string): DynamicModule {
    return {
      module: DbModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            ...buildDataSourceOptions(config.values, app, splitPoolSize(config.get('DB_POOL_MAX')).typeorm),
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
        TypeOrmModule.forFeature(entities),
      ],
      providers: [
        {
          provide: Pool,
          inject: [AppConfig],
          useFactory: (config: AppConfig) =>
            createSqlPool(config.values, app, splitPoolSize(config.get('DB_POOL_MAX')).sql),
        },
        DbPoolMetrics,
      ],
      exports: [TypeOrmModule, Pool],
    };
  }

  // After the HTTP server has closed and the worker's jobs have drained (both earlier in Nest's
  // shutdown). end() lets statements still running finish, then closes every connection.
  // Idempotent: a Nest app closed twice (a test's own close, then its cleanup) must not throw.
  async onApplicationShutdown(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
