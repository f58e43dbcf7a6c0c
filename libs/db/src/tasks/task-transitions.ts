import type { Task } from '../entities/task.entity';
import { runSql, type Queryable } from '../run-sql';
import { taskEventInsert, TASK_ROW_COLUMNS } from '../webhooks/webhook-events';
import { TASK_COLUMNS } from './task-columns';

/*
 * The single-row status transitions. Each moves a task only from the statuses it names, so a
 * replay, or a race with another transition, changes nothing and reports that. The group-committed
 * ones are in task-insert.batcher.ts (new -> queued) and task-write.batcher.ts (claim, complete);
 * the reconciler's in task-reconcile.ts.
 */

const UNCLAIM_SQL = `
  UPDATE tasks SET status = 'queued', attempts = GREATEST(attempts - 1, 0), last_error = $2, updated_at = now()
  WHERE id = $1 AND status = 'running'`;

/**
 * running -> queued, giving back the claim's attempt: the run was deferred (the LLM's breaker
 * opened), which is not an attempt. `reason` is shown as last_error while the task waits.
 * False when the task was not running.
 */
export async function unclaimTask(db: Queryable, args: { id: string; reason: string }): Promise<boolean> {
  return (await runSql(db, UNCLAIM_SQL, [args.id, args.reason])).affected > 0;
}

const DEFER_SQL = `
  UPDATE tasks SET last_error = $2, updated_at = now() WHERE id = $1 AND status = 'queued'`;

/**
 * queued stays queued, with `reason` as last_error: a job deferred before its claim tells a
 * polling client why its task is still waiting. False when the task is not queued.
 */
export async function deferTask(db: Queryable, args: { id: string; reason: string }): Promise<boolean> {
  return (await runSql(db, DEFER_SQL, [args.id, args.reason])).affected > 0;
}

// A final failure records its task.failed webhook event in the same statement.
const FAIL_SQL = `
  WITH failed AS (
    UPDATE tasks SET status = $2, last_error = $3, updated_at = now(),
      finished_at = CASE WHEN $2 = 'failed' THEN now() ELSE NULL END
    WHERE id = $1 AND (status = 'running' OR ($2 = 'failed' AND status = 'queued'))
    RETURNING ${TASK_ROW_COLUMNS}
  ), event AS (
    ${taskEventInsert({ type: 'task.failed', from: 'failed', where: `t.status = 'failed'` })}
  )
  SELECT callback_url AS "callbackUrl" FROM failed`;

/**
 * Records a failed attempt. Not final: running -> queued, for the queue's retry. Final (with the
 * task.failed webhook event when the task has a callback):
 * running | queued -> failed (queued too: an attempt can fail before it claimed the task, and a
 * job given up must never leave its task waiting forever). Null when the task was in neither
 * status (finished, cancelled or gone), so a replay reports nothing new.
 */
export async function failTask(
  db: Queryable,
  args: { id: string; error: string; final: boolean },
): Promise<Pick<Task, 'callbackUrl'> | null> {
  const status = args.final ? 'failed' : 'queued';
  const { rows } = await runSql<Pick<Task, 'callbackUrl'>>(db, FAIL_SQL, [args.id, status, args.error]);
  return rows[0] ?? null;
}

const CANCEL_SQL = `
  WITH cancelled AS (
    UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()
    WHERE id = $1 AND status = 'queued' AND ($2::varchar IS NULL OR tenant = $2)
    RETURNING ${TASK_ROW_COLUMNS}
  ), event AS (
    ${taskEventInsert({ type: 'task.cancelled', from: 'cancelled' })}
  )
  SELECT ${TASK_COLUMNS} FROM cancelled`;

/**
 * queued -> cancelled, with its task.cancelled webhook event when the task has a callback. Null
 * when the task is not queued (or does not exist in `tenant`; null: any tenant).
 */
export async function cancelTask(
  db: Queryable,
  args: { id: string; tenant: string | null },
): Promise<Task | null> {
  const { rows } = await runSql<Task>(db, CANCEL_SQL, [args.id, args.tenant]);
  return rows[0] ?? null;
}

const CANCEL_RUNNING_SQL = `
  WITH cancelled AS (
    UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()
    WHERE id = $1 AND status = 'running' AND ($2::varchar IS NULL OR tenant = $2)
    RETURNING ${TASK_ROW_COLUMNS}
  ), event AS (
    ${taskEventInsert({ type: 'task.cancelled', from: 'cancelled' })}
  )
  SELECT ${TASK_COLUMNS} FROM cancelled`;

/**
 * running -> cancelled, with its task.cancelled webhook event when the task has a callback. The
 * run still in flight finds its completion refused (it moves only a running task), so it writes
 * no result. Null when the task is not running (or does not exist in `tenant`; null: any tenant).
 */
export async function cancelRunningTask(
  db: Queryable,
  args: { id: string; tenant: string | null },
): Promise<Task | null> {
  const { rows } = await runSql<Task>(db, CANCEL_RUNNING_SQL, [args.id, args.tenant]);
  return rows[0] ?? null;
}

const RETRY_SQL = `
  UPDATE tasks SET status = 'queued', last_error = NULL, started_at = NULL, finished_at = NULL,
    request_id = $2, updated_at = now()
  WHERE id = $1 AND status = 'failed' AND ($3::varchar IS NULL OR tenant = $3)
  RETURNING ${TASK_COLUMNS}`;

/**
 * failed -> queued, as a new run requested by `requestId` (which the task then carries). The
 * attempts so far stay counted. Null when the task is not failed (or does not exist in
 * `tenant`; null: any tenant).
 */
export async function retryTask(
  db: Queryable,
  args: { id: string; requestId: string; tenant: string | null },
): Promise<Task | null> {
  const { rows } = await runSql<Task>(db, RETRY_SQL, [args.id, args.requestId, args.tenant]);
  return rows[0] ?? null;
}
