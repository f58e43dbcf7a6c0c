import type { AppEnv } from '@app/platform';
import type { PoolConfig } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { ApiKey } from './entities/api-key.entity';
import { Persona } from './entities/persona.entity';
import { Post } from './entities/post.entity';
import { Task } from './entities/task.entity';
import { migrations } from './migrations';

export const entities = [Persona, Task, Post, ApiKey];

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
 * The settings of every pg pool the platform opens: TypeORM's (through the DataSource options
 * below) and the app's own SQL pool (createSqlPool). `max` is this pool's share of DB_POOL_MAX.
 */
export function buildPoolConfig(env: DbEnv, applicationName: string, max = env.DB_POOL_MAX): PoolConfig {
  return {
    connectionString: env.DATABASE_URL,
    application_name: applicationName,
    max,
    // pg-pool applies this both to opening a connection and to waiting for a free one,
    // so an exhausted pool fails fast instead of queueing requests forever.
    connectionTimeoutMillis: env.DB_POOL_ACQUIRE_TIMEOUT_MS,
    idleTimeoutMillis: env.DB_POOL_IDLE_TIMEOUT_MS,
    maxLifetimeSeconds: env.DB_POOL_MAX_LIFETIME_S,
    statement_timeout: env.DB_STATEMENT_TIMEOUT_MS,
  };
}

/**
 * How an app process shares its DB_POOL_MAX connections, so that the two pools together never
 * open more than that (the replicas x DB_POOL_MAX <= max_connections arithmetic stays true).
 * Every task statement, the hot paths included, runs on the SQL pool; TypeORM's pool serves the
 * persona and post endpoints and the readiness ping: a quarter, at least one connection.
 */
export function splitPoolSize(total: number): { typeorm: number; sql: number } {
  if (!(Number.isInteger(total) && total >= 2)) {
    throw new RangeError(`DB_POOL_MAX must be an integer >= 2 (one connection per pool), got ${total}`);
  }
  const typeorm = Math.max(1, Math.floor(total / 4));
  return { typeorm, sql: total - typeorm };
}

/**
 * The one DataSource configuration, used by the Nest apps and by the TypeORM CLI.
 * Schema changes happen through migrations only.
 */
export function buildDataSourceOptions(
  env: DbEnv,
  applicationName = 'agent-platform',
  poolSize = env.DB_POOL_MAX,
): DataSourceOptions {
  const pool = buildPoolConfig(env, applicationName, poolSize);
  return {
    type: 'postgres',
    url: pool.connectionString,
    entities,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    migrationsRun: false,
    applicationName,
    poolSize,
    connectTimeoutMS: pool.connectionTimeoutMillis,
    extra: {
      idleTimeoutMillis: pool.idleTimeoutMillis,
      maxLifetimeSeconds: pool.maxLifetimeSeconds,
      statement_timeout: pool.statement_timeout,
    },
  };
}
