import type { AppEnv } from '@app/platform';
import type { DataSourceOptions } from 'typeorm';
import { Persona } from './entities/persona.entity';
import { Post } from './entities/post.entity';
import { Task } from './entities/task.entity';
import { migrations } from './migrations';

export const entities = [Persona, Task, Post];

type DbEnv = Pick<
  AppEnv,
  | 'DATABASE_URL'
  | 'DB_POOL_MAX'
  | 'DB_POOL_ACQUIRE_TIMEOUT_MS'
  | 'DB_POOL_IDLE_TIMEOUT_MS'
  | 'DB_POOL_MAX_LIFETIME_S'
  | 'DB_STATEMENT_TIMEOUT_MS'
>;

/**
 * The one DataSource configuration, used by the Nest apps and by the TypeORM CLI.
 * Schema changes happen through migrations only.
 */
export function buildDataSourceOptions(env: DbEnv, applicationName = 'agent-platform'): DataSourceOptions {
  return {
    type: 'postgres',
    url: env.DATABASE_URL,
    entities,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    migrationsRun: false,
    applicationName,
    poolSize: env.DB_POOL_MAX,
    // pg-pool applies this both to opening a connection and to waiting for a free one,
    // so an exhausted pool fails fast instead of queueing requests forever.
    connectTimeoutMS: env.DB_POOL_ACQUIRE_TIMEOUT_MS,
    extra: {
      idleTimeoutMillis: env.DB_POOL_IDLE_TIMEOUT_MS,
      maxLifetimeSeconds: env.DB_POOL_MAX_LIFETIME_S,
      statement_timeout: env.DB_STATEMENT_TIMEOUT_MS,
    },
  };
}
