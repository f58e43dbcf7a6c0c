import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import { buildPoolConfig } from './data-source.options';

const logger = new Logger('SqlPool');

/**
 * The app's own pg Pool, for the hand-written statements (runSql): every task statement, the
 * hot paths included. Same server, settings and statement_timeout as TypeORM's pool, opened from
 * the same builder, with its own share of DB_POOL_MAX (splitPoolSize). DbModule provides it
 * (inject `Pool` from 'pg') and ends it on shutdown.
 */
export function createSqlPool(...config: Parameters<typeof buildPoolConfig>): Pool {
  const pool = new Pool(buildPoolConfig(...config));
  // An idle connection that breaks (Postgres restarted, a network cut) is reported on the pool;
  // without a listener Node would treat it as an uncaught error and end the process. The pool
  // has already dropped that connection and opens a new one on demand.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection failed'));
  return pool;
}
