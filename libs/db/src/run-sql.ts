import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

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
 * Runs one hand-written hot-path statement as a named prepared statement on the DataSource's
 * own pg pool (same connections, pool limits and statement_timeout as TypeORM's queries).
 * Postgres parses and plans each statement once per connection instead of on every call; on
 * this project's 2-core benchmark box Postgres was the largest CPU consumer.
 *
 * Rules for statements run here: name their result columns (never `RETURNING *` or
 * `SELECT *`: a prepared plan fails with "cached plan must not change result type" when a
 * migration adds a column under a running app), and do not run them through a pooler in
 * transaction mode (prepared statements live on a server connection).
 */
export async function runSql<T>(
  dataSource: DataSource,
  text: string,
  params: unknown[],
): Promise<SqlResult<T>> {
  // TypeORM's Postgres driver keeps its pg Pool as `master` (no public accessor).
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!pool) throw new Error('runSql: the DataSource is not initialized');
  const result = await pool.query({ name: statementName(text), text, values: params });
  return { rows: result.rows as T[], affected: result.rowCount ?? result.rows.length };
}
