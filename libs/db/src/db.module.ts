import { AppConfig } from '@app/platform';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { buildDataSourceOptions, entities } from './data-source.options';
import { DbPoolMetrics } from './db-pool.metrics';

@Module({})
export class DbModule {
  /** The app's DataSource, from the shared options; `app` names the connections in pg_stat_activity. */
  static forApp(app: string): DynamicModule {
    return {
      module: DbModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            ...buildDataSourceOptions(config.values, app),
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
        TypeOrmModule.forFeature(entities),
      ],
      providers: [DbPoolMetrics],
      exports: [TypeOrmModule],
    };
  }
}
