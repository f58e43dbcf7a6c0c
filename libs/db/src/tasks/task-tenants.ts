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
  /** LLM tokens of those tasks' successful runs (their recorded usage), by model. */
  tokensByModel: ModelTokens[];
}

export interface ModelTokens {
  model: string;
  tasks: number;
  promptTokens: number;
  completionTokens: number;
  tokens: number;
}

const TASKS_BY_STATUS_SQL = `
  SELECT status, count(*)::int AS n FROM tasks
  WHERE ($1::varchar IS NULL OR tenant = $1) AND created_at >= $2 AND created_at < $3
  GROUP BY status`;

const TOKENS_BY_MODEL_SQL = `
  SELECT COALESCE(model, '') AS model, count(*)::int AS tasks,
    sum(prompt_tokens)::bigint AS "promptTokens", sum(completion_tokens)::bigint AS "completionTokens"
  FROM tasks
  WHERE ($1::varchar IS NULL OR tenant = $1) AND created_at >= $2 AND created_at < $3
    AND prompt_tokens IS NOT NULL AND completion_tokens IS NOT NULL
  GROUP BY 1 ORDER BY 1`;

/** Tasks by status and LLM tokens by model, of the tasks created in [from, to). */
export async function taskUsage(db: Queryable, args: UsageArgs): Promise<TaskUsage> {
  const params = [args.tenant, args.from, args.to];
  const [statuses, tokens] = await Promise.all([
    runSql<{ status: TaskStatus; n: number }>(db, TASKS_BY_STATUS_SQL, params),
    runSql<{ model: string; tasks: number; promptTokens: string; completionTokens: string }>(
      db,
      TOKENS_BY_MODEL_SQL,
      params,
    ),
  ]);
  return {
    tasksByStatus: Object.fromEntries(statuses.rows.map((r) => [r.status, r.n])),
    tokensByModel: tokens.rows.map((r) => {
      const promptTokens = Number(r.promptTokens);
      const completionTokens = Number(r.completionTokens);
      return {
        model: r.model,
        tasks: r.tasks,
        promptTokens,
        completionTokens,
        tokens: promptTokens + completionTokens,
      };
    }),
  };
}
