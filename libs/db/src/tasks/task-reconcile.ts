import type { Task } from '../entities/task.entity';
import { runSql, type Queryable } from '../run-sql';

/**
 * Where the reconciler's sweep stopped: the last task it examined, by (updated_at, id). The
 * timestamp travels as Postgres wrote it (text, microseconds): a JS Date keeps milliseconds only,
 * and a truncated cursor would re-read, or never leave, the rows of one millisecond.
 */
export interface ReconcileCursor {
  updatedAt: string;
  id: string;
}

/*
 * The reconciler's lease lives in one row (reconciler_state), taken and renewed by single
 * statements: nothing (no transaction, no advisory lock, no session) stays open while a pass
 * talks to Redis, and a replica that dies mid-pass lets go when the lease runs out.
 */
const ACQUIRE_SQL = `
  UPDATE reconciler_state SET holder = $1, lease_until = now() + make_interval(secs => $2 / 1000.0)
  WHERE id = 1 AND (lease_until < now() OR holder = $1)
  RETURNING cursor_updated_at::text AS "updatedAt", cursor_id AS "id"`;

/**
 * Takes (or extends) the reconciler's lease for `ttlMs` when no other holder has a live one.
 * Returns where the last sweep stopped ({cursor: null}: start from the oldest task), or null
 * when another replica holds the lease.
 */
export async function acquireReconcilerLease(
  db: Queryable,
  args: { holder: string; ttlMs: number },
): Promise<{ cursor: ReconcileCursor | null } | null> {
  const { rows } = await runSql<{ updatedAt: string | null; id: string | null }>(db, ACQUIRE_SQL, [
    args.holder,
    args.ttlMs,
  ]);
  if (rows.length === 0) return null;
  const { updatedAt, id } = rows[0];
  return { cursor: updatedAt !== null && id !== null ? { updatedAt, id } : null };
}

const SAVE_CURSOR_SQL = `
  UPDATE reconciler_state
  SET cursor_updated_at = $3::timestamptz, cursor_id = $4::uuid,
      lease_until = now() + make_interval(secs => $2 / 1000.0)
  WHERE id = 1 AND holder = $1 AND lease_until >= now()`;

/**
 * Records how far the sweep got (null: it reached the end, the next one starts over) and extends
 * the lease. False when the lease was lost (it ran out and another replica took it).
 */
export async function saveReconcilerCursor(
  db: Queryable,
  args: { holder: string; ttlMs: number; cursor: ReconcileCursor | null },
): Promise<boolean> {
  const { affected } = await runSql(db, SAVE_CURSOR_SQL, [
    args.holder,
    args.ttlMs,
    args.cursor?.updatedAt ?? null,
    args.cursor?.id ?? null,
  ]);
  return affected > 0;
}

const RELEASE_SQL = `UPDATE reconciler_state SET lease_until = '-infinity' WHERE id = 1 AND holder = $1`;

/** Ends the lease now, so any replica may run the next pass. */
export async function releaseReconcilerLease(db: Queryable, args: { holder: string }): Promise<void> {
  await runSql(db, RELEASE_SQL, [args.holder]);
}

/** A task the reconciler looks at: unfinished and not moved for a while. */
export type ReconcileCandidate = Pick<Task, 'id' | 'status' | 'requestId'> & {
  /** Running and not moved for `staleRunningMs`: requeued even when Redis still holds a finished job. */
  staleRunning: boolean;
  cursor: ReconcileCursor;
};

/*
 * Keyset pagination over the partial index tasks_unfinished_updated_at_idx: each page starts
 * after the last row of the previous one, so a sweep reads every candidate once however many
 * there are (an OFFSET-free, ORDER BY ... LIMIT page re-read the same oldest rows every pass).
 */
const CANDIDATES_SQL = `
  SELECT id, status, request_id AS "requestId",
         (status = 'running' AND updated_at < now() - make_interval(secs => $3 / 1000.0)) AS "staleRunning",
         updated_at::text AS "cursorUpdatedAt"
  FROM tasks
  WHERE status IN ('queued', 'running')
    AND ((status = 'queued' AND updated_at < now() - make_interval(secs => $1 / 1000.0))
      OR (status = 'running' AND updated_at < now() - make_interval(secs => $2 / 1000.0)))
    AND (updated_at, id) > (COALESCE($4::timestamptz, '-infinity'), COALESCE($5::uuid, '00000000-0000-0000-0000-000000000000'))
  ORDER BY updated_at, id
  LIMIT $6`;

/**
 * One page of the sweep, oldest first, after `after`: queued tasks not moved for `queuedGraceMs`
 * and running ones not moved for `lostRunningMs` (the worker's lock duration: a live run's job
 * is active in Redis by then), i.e. those whose job Redis may have lost.
 */
export async function findTasksToReconcile(
  db: Queryable,
  args: {
    queuedGraceMs: number;
    lostRunningMs: number;
    staleRunningMs: number;
    after: ReconcileCursor | null;
    limit: number;
  },
): Promise<ReconcileCandidate[]> {
  const { rows } = await runSql<Omit<ReconcileCandidate, 'cursor'> & { cursorUpdatedAt: string }>(
    db,
    CANDIDATES_SQL,
    [
      args.queuedGraceMs,
      args.lostRunningMs,
      args.staleRunningMs,
      args.after?.updatedAt ?? null,
      args.after?.id ?? null,
      args.limit,
    ],
  );
  return rows.map(({ cursorUpdatedAt, ...task }) => ({
    ...task,
    cursor: { updatedAt: cursorUpdatedAt, id: task.id },
  }));
}

const REQUEUE_SQL = `
  UPDATE tasks SET status = 'queued', updated_at = now()
  WHERE id = $1 AND status = 'running' AND updated_at < now() - make_interval(secs => $2 / 1000.0)`;

/**
 * running -> queued, for a task whose job is gone (Redis lost it, or its worker died and the job
 * vanished): the reconciler queues a new job for it. False when the task is no longer running,
 * or moved within `olderThanMs` (a worker claimed it again meanwhile).
 */
export async function requeueLostTask(
  db: Queryable,
  args: { id: string; olderThanMs: number },
): Promise<boolean> {
  return (await runSql(db, REQUEUE_SQL, [args.id, args.olderThanMs])).affected > 0;
}
