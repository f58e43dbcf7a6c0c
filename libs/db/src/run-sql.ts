import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** Where a statement runs: the SQL pool, or one of its connections inside a transaction. */
export type Queryable = Pool | PoolClient;

export interface SqlResult<T> {
  rows: T[];
  /** Rows inserted, updated or deleted (for SELECT: rows returned). */
  affected: number;
}

const names = new Map<string, string>();

/** A stable prepared-statement name for a statement text. */
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `s_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Runs one hand-written statement as a named prepared statement on the app's SQL pool
 * (createSqlPool) or a connection taken from it. Postgres parses and plans each statement once
 * per connection instead of on every call; on this project's 2-core benchmark box Postgres was
 * the largest CPU consumer.
 *
 * Rules for statements run here: name their result columns (never `RETURNING *` or
 * `SELECT *`: a prepared plan fails with "cached plan must not change result type" when a
 * migration adds a column under a running app), keep the number of distinct texts bounded (each
 * is prepared on every connection), and do not run them through a pooler in transaction mode
 * (prepared statements live on a server connection).
 */
export async function runSql<T>(db: Queryable, text: string, params: unknown[]): Promise<SqlResult<T>> {
  const result = await db.query({ name: statementName(text), text, values: params });
  return { rows: result.rows as T[], affected: result.rowCount ?? result.rows.length };
}
