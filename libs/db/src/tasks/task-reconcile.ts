import type { Pool, PoolClient } from 'pg';
import type { Task } from '../entities/task.entity';
import { runSql, type Queryable } from '../run-sql';

/** Arbitrary but fixed: every orchestrator replica contends for the same advisory lock. */
export const RECONCILER_LOCK_KEY = 72_620_001;

/**
 * Runs one reconciler pass in a transaction that holds the reconciler's advisory lock, so one
 * replica at a time reconciles. Null (and `pass` not run) when another replica holds it. The lock
 * ends with the transaction.
 */
export async function withReconcilerLock<T>(
  pool: Pool,
  pass: (tx: PoolClient) => Promise<T>,
): Promise<T | null> {
  const tx = await pool.connect();
  let broken = false;
  try {
    await tx.query('BEGIN');
    const { rows } = await runSql<{ locked: boolean }>(tx, 'SELECT pg_try_advisory_xact_lock($1) AS locked', [
      RECONCILER_LOCK_KEY,
    ]);
    if (!rows[0].locked) {
      await tx.query('ROLLBACK');
      return null;
    }
    const result = await pass(tx);
    await tx.query('COMMIT');
    return result;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    // A connection whose ROLLBACK failed is in an unknown state: close it rather than reuse it.
    tx.release(broken);
  }
}

/** A task the reconciler looks at: unfinished and not moved for a while. */
export type ReconcileCandidate = Pick<Task, 'id' | 'status' | 'requestId'>;

const CANDIDATES_SQL = `
  SELECT id, status, request_id AS "requestId" FROM tasks
  WHERE (status = 'queued' AND updated_at < now() - make_interval(secs => $1 / 1000.0))
     OR (status = 'running' AND updated_at < now() - make_interval(secs => $2 / 1000.0))
  ORDER BY updated_at
  LIMIT $3`;

/**
 * Queued tasks not moved for `queuedGraceMs` and running ones not moved for `staleRunningMs`,
 * oldest first, at most `limit`: those whose job Redis may have lost.
 */
export async function findTasksToReconcile(
  db: Queryable,
  args: { queuedGraceMs: number; staleRunningMs: number; limit: number },
): Promise<ReconcileCandidate[]> {
  const { rows } = await runSql<ReconcileCandidate>(db, CANDIDATES_SQL, [
    args.queuedGraceMs,
    args.staleRunningMs,
    args.limit,
  ]);
  return rows;
}

const REQUEUE_SQL = `UPDATE tasks SET status = 'queued', updated_at = now() WHERE id = $1 AND status = 'running'`;

/**
 * running -> queued, for a task whose job is gone (its worker died and Redis lost the job): the
 * reconciler queues a new job for it. False when the task is no longer running.
 */
export async function requeueStaleTask(db: Queryable, args: { id: string }): Promise<boolean> {
  return (await runSql(db, REQUEUE_SQL, [args.id])).affected > 0;
}
