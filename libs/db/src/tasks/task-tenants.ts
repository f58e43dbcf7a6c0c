import type { TaskStatus } from '../entities/task-status';
import { runSql, type Queryable } from '../run-sql';

/*
 * Per-tenant aggregates: the quota's active-task counts and GET /v1/usage.
 */

const ACTIVE_BY_TENANT_SQL = `
  SELECT tenant, count(*)::int AS active FROM tasks
  WHERE status IN ('queued', 'running')
  GROUP BY tenant`;

/**
 * Queued plus running tasks per tenant (tenants with none are missing). An index-only scan of
 * tasks_unfinished_tenant_idx: its cost follows the backlog, not the table.
 */
export async function countActiveTasksByTenant(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await runSql<{ tenant: string; active: number }>(db, ACTIVE_BY_TENANT_SQL, []);
  return new Map(rows.map((r) => [r.tenant, r.active]));
}

export interface UsageArgs {
  /** One tenant's usage, or null for all tenants together (admin). */
  tenant: string | null;
  /** Tasks created at or after. */
  from: Date;
  /** Tasks created before. */
  to: Date;
}

export interface TaskUsage {
  tasksByStatus: Partial<Record<TaskStatus, number>>;
  /** LLM tokens of the posts of those tasks, by model. */
  tokensByModel: { model: string; tasks: number; tokens: number }[];
}

const TASKS_BY_STATUS_SQL = `
  SELECT status, count(*)::int AS n FROM tasks
  WHERE ($1::varchar IS NULL OR tenant = $1) AND created_at >= $2 AND created_at < $3
  GROUP BY status`;

const TOKENS_BY_MODEL_SQL = `
  SELECT p.model, count(*)::int AS tasks, COALESCE(sum(p.tokens_used), 0)::bigint AS tokens
  FROM tasks t JOIN posts p ON p.task_id = t.id
  WHERE ($1::varchar IS NULL OR t.tenant = $1) AND t.created_at >= $2 AND t.created_at < $3
  GROUP BY p.model ORDER BY p.model`;

/** Tasks by status and LLM tokens by model, of the tasks created in [from, to). */
export async function taskUsage(db: Queryable, args: UsageArgs): Promise<TaskUsage> {
  const params = [args.tenant, args.from, args.to];
  const [statuses, tokens] = await Promise.all([
    runSql<{ status: TaskStatus; n: number }>(db, TASKS_BY_STATUS_SQL, params),
    runSql<{ model: string; tasks: number; tokens: string }>(db, TOKENS_BY_MODEL_SQL, params),
  ]);
  return {
    tasksByStatus: Object.fromEntries(statuses.rows.map((r) => [r.status, r.n])),
    tokensByModel: tokens.rows.map((r) => ({ model: r.model, tasks: r.tasks, tokens: Number(r.tokens) })),
  };
}
