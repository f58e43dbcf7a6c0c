import { MAPPED_COLUMNS } from '../tasks/task-columns';
import type { TaskJson } from '../tasks/task-json';
import { runSql, type Queryable } from '../run-sql';

/*
 * The webhook outbox (table webhook_events). Every terminal transition of a task with a
 * callback_url writes its event in the same statement (taskEventInsert, used by the transitions
 * in ../tasks), so the event exists exactly when the transition happened. The worker's
 * dispatcher claims pending events, adds each to the webhook queue (job id = event id), and the
 * webhook processor records the outcome here: delivered, or dead once its retries are spent.
 */

export type WebhookEventType = 'task.succeeded' | 'task.failed' | 'task.cancelled';
export type WebhookEventStatus = 'pending' | 'delivered' | 'dead';

/** An event claimed for dispatch: what the webhook job needs to build, sign and send it. */
export interface ClaimedWebhookEvent {
  /** Also the webhook-id header, the same on every delivery try. */
  id: string;
  taskId: string;
  type: WebhookEventType;
  /** The task as the API shows it at the transition (taskJson), post included once it succeeded. */
  payload: TaskJson;
  createdAt: Date;
}

/** Every task column, for the RETURNING of a transition whose row an event is built from. */
export const TASK_ROW_COLUMNS = MAPPED_COLUMNS.tasks.join(', ');

/** A timestamp as Date#toISOString writes it (UTC, milliseconds, truncated as pg's Date is). */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * taskJson (../tasks/task-json.ts) in SQL, for a task row `t` with every column (TASK_ROW_COLUMNS)
 * and an optional post row `p` (NULL columns when none). The two are compared in libs/db/test.
 */
function taskJsonSql(t: string, p: string | null): string {
  const post = p
    ? `CASE WHEN ${p}.id IS NULL THEN 'null'::jsonb ELSE jsonb_build_object(
        'id', ${p}.id, 'task_id', ${p}.task_id, 'persona_id', ${p}.persona_id, 'hook', ${p}.hook,
        'body', ${p}.body, 'tokens_used', ${p}.tokens_used, 'model', ${p}.model,
        'latency_ms', ${p}.latency_ms, 'created_at', ${iso(`${p}.created_at`)}) END`
    : `'null'::jsonb`;
  return `jsonb_build_object(
      'id', ${t}.id, 'persona_id', ${t}.persona_id, 'task_type', ${t}.task_type, 'status', ${t}.status,
      'input', ${t}.input, 'attempts', ${t}.attempts, 'last_error', ${t}.last_error,
      'request_id', ${t}.request_id, 'callback_url', ${t}.callback_url,
      'created_at', ${iso(`${t}.created_at`)}, 'started_at', ${iso(`${t}.started_at`)},
      'finished_at', ${iso(`${t}.finished_at`)}, 'updated_at', ${iso(`${t}.updated_at`)},
      'usage', CASE WHEN ${t}.prompt_tokens IS NULL OR ${t}.completion_tokens IS NULL THEN 'null'::jsonb
        ELSE jsonb_build_object('model', COALESCE(${t}.model, ''), 'prompt_tokens', ${t}.prompt_tokens,
          'completion_tokens', ${t}.completion_tokens) END,
      'post', ${post})`;
}

/**
 * A data-modifying CTE body that records the `type` event of every row of `from` (a CTE of
 * transitioned task rows, aliased `t`, with TASK_ROW_COLUMNS) that has a callback_url. `postJoin`
 * joins the task's post as `p` (the payload's `post`, null without it); `where` narrows the rows.
 */
export function taskEventInsert(args: {
  type: WebhookEventType;
  from: string;
  postJoin?: string;
  where?: string;
}): string {
  const { type, from, postJoin, where } = args;
  return `INSERT INTO webhook_events (id, task_id, type, payload)
    SELECT gen_random_uuid(), t.id, '${type}', ${taskJsonSql('t', postJoin ? 'p' : null)}
    FROM ${from} t ${postJoin ?? ''}
    WHERE t.callback_url IS NOT NULL${where ? ` AND (${where})` : ''}`;
}

const CLAIM_SQL = `
  UPDATE webhook_events e SET next_dispatch_at = now() + make_interval(secs => $2 / 1000.0)
  WHERE e.id IN (
    SELECT id FROM webhook_events
    WHERE status = 'pending' AND next_dispatch_at <= now()
    ORDER BY next_dispatch_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
  )
  RETURNING e.id, e.task_id AS "taskId", e.type, e.payload, e.created_at AS "createdAt"`;

/**
 * Takes up to `limit` pending events that are due and makes them due again only `leaseMs` later:
 * concurrent dispatchers never take the same event, and an event whose job a dispatcher queued
 * is looked at again after the lease (its job may have been lost with Redis; adding it again is a
 * no-op while the job exists).
 */
export async function claimWebhookEvents(
  db: Queryable,
  args: { limit: number; leaseMs: number },
): Promise<ClaimedWebhookEvent[]> {
  const { rows } = await runSql<ClaimedWebhookEvent>(db, CLAIM_SQL, [args.limit, args.leaseMs]);
  return rows;
}

const RELEASE_SQL = `
  UPDATE webhook_events SET next_dispatch_at = now() + make_interval(secs => $2 / 1000.0)
  WHERE id = ANY($1::uuid[]) AND status = 'pending'`;

/** Makes claimed events due again after `delayMs`: their job could not be queued. */
export async function releaseWebhookEvents(
  db: Queryable,
  args: { ids: string[]; delayMs: number },
): Promise<number> {
  return (await runSql(db, RELEASE_SQL, [args.ids, args.delayMs])).affected;
}

const RECORD_SQL = `
  UPDATE webhook_events SET attempts = GREATEST(attempts, $2), last_error = $4,
    status = CASE WHEN $3::varchar = 'retry' THEN status ELSE $3::varchar END,
    delivered_at = CASE WHEN $3::varchar = 'delivered' THEN now() ELSE delivered_at END
  WHERE id = $1 AND status = 'pending'`;

/**
 * Records one delivery try of a pending event: `delivered`, `dead` (a permanent refusal, or the
 * last try failed) or `retry` (the queue tries again). False when the event is not pending (an
 * earlier try already settled it) or does not exist.
 */
export async function recordWebhookAttempt(
  db: Queryable,
  args: { id: string; attempts: number; outcome: 'delivered' | 'dead' | 'retry'; error: string | null },
): Promise<boolean> {
  const { id, attempts, outcome, error } = args;
  return (await runSql(db, RECORD_SQL, [id, attempts, outcome, error])).affected > 0;
}
