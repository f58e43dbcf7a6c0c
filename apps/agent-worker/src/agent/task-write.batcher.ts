import { GroupCommitQueue, isRowError, runSql, type TaskInput } from '@app/db';
import { AppConfig } from '@app/platform';
import { Injectable } from '@nestjs/common';
import { Pool } from 'pg';

export interface ClaimedTaskRow {
  id: string;
  task_type: string;
  input: TaskInput;
  persona_id: string;
  /** Null when the persona row is gone: a permanent failure. */
  persona_name: string | null;
  system_prompt: string | null;
  model: string | null;
  temperature: number | null;
  max_tokens: number | null;
}

/** The post a run wrote for its task. */
export interface CompletedTask {
  taskId: string;
  postId: string;
  personaId: string;
  hook: string;
  body: string;
  tokensUsed: number;
  model: string;
  latencyMs: number;
}

export interface FinishedTask {
  callback_url: string | null;
}

/**
 * Tasks per statement. A worker has at most WORKER_CONCURRENCY calls of a kind in flight, so
 * this only bounds the worst case (statement size, rows locked by one transaction).
 */
export const MAX_BATCH = 200;

/*
 * Both statements take arrays, so their text is the same for any batch size and each stays one
 * named prepared statement (runSql). A batch never names a task twice (splitBatches in @app/db).
 *
 * Claim and persona lookup in one round trip. Only queued or running tasks are claimed: a
 * cancelled or finished task is never run again, and "running" lets a job whose worker died
 * (Bull re-delivers stalled jobs) be picked up by the next worker. The persona is a LEFT JOIN so
 * that a missing one is reported as such instead of looking like a task that is not runnable.
 */
const CLAIM_SQL = `
  WITH claimed AS (
    UPDATE tasks t SET status = 'running', attempts = t.attempts + 1,
           started_at = COALESCE(t.started_at, now()), updated_at = now()
    WHERE t.id = ANY($1::uuid[]) AND t.status IN ('queued', 'running')
    RETURNING t.id, t.task_type, t.input, t.persona_id
  )
  SELECT c.id, c.task_type, c.input, c.persona_id, p.name AS persona_name, p.system_prompt,
         p.model, p.temperature, p.max_tokens
  FROM claimed c LEFT JOIN personas p ON p.id = c.persona_id`;

/*
 * Posts and statuses in one statement, hence one implicit transaction: ON CONFLICT keeps the
 * first post when a job runs twice, and a status only moves from running, so of two concurrent
 * runs of a task exactly one sees its row come back (and announces the result).
 */
const COMPLETE_SQL = `
  WITH post AS (
    INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    SELECT v.id, v.task_id, v.persona_id, v.hook, v.body, v.tokens_used, v.model, v.latency_ms
    FROM unnest($2::uuid[], $1::uuid[], $3::varchar[], $4::text[], $5::text[], $6::int[], $7::varchar[], $8::int[])
      AS v(id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    ON CONFLICT (task_id) DO NOTHING
  )
  UPDATE tasks SET status = 'succeeded', last_error = NULL, finished_at = now(), updated_at = now()
  WHERE id = ANY($1::uuid[]) AND status = 'running'
  RETURNING id, callback_url`;

/**
 * Postgres reads a uuid in several spellings and returns it in one; matching returned rows to
 * callers (and finding repeated tasks in a batch) needs one spelling.
 */
function uuidKey(id: string): string {
  const hex = id.replace(/[{}-]/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? hex : id;
}

/**
 * Group commit (GroupCommitQueue) of the worker's two per-task statements, the claim and the
 * completion, across concurrent jobs. With many jobs in flight and a fast LLM, Postgres spent
 * most of its CPU on per-statement and per-commit overhead rather than on the rows.
 */
@Injectable()
export class TaskWriteBatcher {
  private readonly claims: GroupCommitQueue<string, ClaimedTaskRow>;
  private readonly completions: GroupCommitQueue<CompletedTask, FinishedTask>;

  constructor(
    private readonly pool: Pool,
    config: AppConfig,
  ) {
    // A window makes batches larger than one event-loop turn's: with a fast LLM (the builtin
    // provider) fewer, larger statements took peak-150's p95 from 28-29 to 15-17 ms and kept the
    // worker up with the API (docs/PERFORMANCE.md).
    const windowMs = config.get('WORKER_WRITE_WINDOW_MS');
    this.claims = new GroupCommitQueue<string, ClaimedTaskRow>({
      key: uuidKey,
      maxBatch: MAX_BATCH,
      windowMs,
      isRowError,
      execute: async (taskIds) => {
        const { rows } = await runSql<ClaimedTaskRow>(this.pool, CLAIM_SQL, [taskIds]);
        return new Map(rows.map((row) => [uuidKey(row.id), row]));
      },
    });
    this.completions = new GroupCommitQueue<CompletedTask, FinishedTask>({
      key: (task) => uuidKey(task.taskId),
      maxBatch: MAX_BATCH,
      windowMs,
      isRowError,
      execute: async (tasks) => {
        const { rows } = await runSql<{ id: string; callback_url: string | null }>(this.pool, COMPLETE_SQL, [
          tasks.map((t) => t.taskId),
          tasks.map((t) => t.postId),
          tasks.map((t) => t.personaId),
          tasks.map((t) => t.hook),
          tasks.map((t) => t.body),
          tasks.map((t) => t.tokensUsed),
          tasks.map((t) => t.model),
          tasks.map((t) => t.latencyMs),
        ]);
        return new Map(rows.map((row) => [uuidKey(row.id), { callback_url: row.callback_url }]));
      },
    });
  }

  /**
   * Claims a queued or running task (attempts + 1) and reads its persona; null when the task is
   * not runnable (cancelled, finished or gone). `persona_name` is null when the persona is gone.
   */
  claim(taskId: string): Promise<ClaimedTaskRow | null> {
    return this.claims.submit(taskId);
  }

  /**
   * Writes the post (unless the task has one) and moves the task from running to succeeded;
   * null when the task was not running (another run finished it first, or it was cancelled).
   */
  complete(task: CompletedTask): Promise<FinishedTask | null> {
    return this.completions.submit(task);
  }
}
