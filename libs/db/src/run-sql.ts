import type { DataSource } from 'typeorm';

export interface SqlResult<T> {
  rows: T[];
  /** Rows inserted, updated or deleted. */
  affected: number;
}

/**
 * Runs one hand-written statement and returns its rows in one shape whatever the command
 * (TypeORM's `query()` returns bare rows for SELECT/INSERT but `[rows, count]` for UPDATE/DELETE).
 */
export async function runSql<T>(
  dataSource: DataSource,
  text: string,
  params: unknown[],
): Promise<SqlResult<T>> {
  const runner = dataSource.createQueryRunner();
  try {
    const result = await runner.query(text, params, true);
    return { rows: result.records as T[], affected: result.affected ?? result.records.length };
  } finally {
    await runner.release();
  }
}
