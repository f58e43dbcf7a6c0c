import type { TaskStatus } from '../entities/task-status';
import type { Task } from '../entities/task.entity';
import { runSql, type Queryable } from '../run-sql';
import { TASK_COLUMNS, TASK_WITH_POST_COLUMNS, taskWithPostFromRow, type TaskWithPost } from './task-columns';

const GET_WITH_POST_SQL = `
  SELECT ${TASK_WITH_POST_COLUMNS}
  FROM tasks t LEFT JOIN posts p ON p.task_id = t.id AND t.status = 'succeeded'
  WHERE t.id = $1 AND ($2::varchar IS NULL OR t.tenant = $2)`;

/**
 * A task and, once it succeeded, its post, in one statement: GET /v1/tasks/:id, the long-poll's
 * re-reads, and the webhook's snapshot of a finished task. Null when there is no such task in
 * `tenant` (null: in any tenant, for admins and the platform's own reads).
 */
export async function getTaskWithPost(
  db: Queryable,
  args: { id: string; tenant: string | null },
): Promise<TaskWithPost | null> {
  const { rows } = await runSql<Record<string, unknown>>(db, GET_WITH_POST_SQL, [args.id, args.tenant]);
  return rows.length > 0 ? taskWithPostFromRow(rows[0]) : null;
}

const BY_IDEMPOTENCY_KEY_SQL = `
  SELECT ${TASK_COLUMNS} FROM tasks WHERE tenant = $1 AND idempotency_key = $2`;

/** The task a tenant created with this Idempotency-Key, if any (keys are per tenant). */
export async function findTaskByIdempotencyKey(
  db: Queryable,
  args: { tenant: string; idempotencyKey: string },
): Promise<Task | null> {
  const { rows } = await runSql<Task>(db, BY_IDEMPOTENCY_KEY_SQL, [args.tenant, args.idempotencyKey]);
  return rows[0] ?? null;
}

export interface ListTasksArgs {
  /** Only this tenant's tasks; null: every tenant's (admin). */
  tenant: string | null;
  status?: TaskStatus;
  personaId?: string;
  /** Created at or after. */
  createdAfter?: Date;
  /** Created before. */
  createdBefore?: Date;
  /** Keyset cursor: only tasks whose id sorts before this one (the last id of the previous page). */
  beforeId?: string;
  limit: number;
}

/**
 * Tasks newest first (ids are UUIDv7, so id order is creation order), filtered, at most `limit`.
 * One statement text per combination of filters, so each stays a prepared statement (at most 64).
 */
export async function listTasks(db: Queryable, args: ListTasksArgs): Promise<Task[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const where = (condition: (param: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (args.tenant !== null) where((p) => `tenant = ${p}`, args.tenant);
  if (args.status !== undefined) where((p) => `status = ${p}`, args.status);
  if (args.personaId !== undefined) where((p) => `persona_id = ${p}`, args.personaId);
  if (args.createdAfter !== undefined) where((p) => `created_at >= ${p}`, args.createdAfter);
  if (args.createdBefore !== undefined) where((p) => `created_at < ${p}`, args.createdBefore);
  if (args.beforeId !== undefined) where((p) => `id < ${p}`, args.beforeId);
  params.push(args.limit);
  const text =
    `SELECT ${TASK_COLUMNS} FROM tasks` +
    (conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '') +
    ` ORDER BY id DESC LIMIT $${params.length}`;
  const { rows } = await runSql<Task>(db, text, params);
  return rows;
}
