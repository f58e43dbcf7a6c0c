import type { Pool } from 'pg';
import type { Persona } from '../entities/persona.entity';
import type { Post } from '../entities/post.entity';
import type { Task } from '../entities/task.entity';
import { GroupCommitQueue, isConnectionError, isRowError } from '../group-commit';
import { runSql, type Queryable } from '../run-sql';
import { taskEventInsert, TASK_ROW_COLUMNS } from '../webhooks/webhook-events';

/** A claimed task and what the run needs of its persona. */
export interface ClaimedTask extends Pick<Task, 'id' | 'taskType' | 'input' | 'personaId'> {
  /** Null when the persona row is gone (a permanent failure); its other fields are null then too. */
  personaName: string | null;
  systemPrompt: Persona['systemPrompt'] | null;
  model: Persona['model'] | null;
  temperature: Persona['temperature'] | null;
  maxTokens: Persona['maxTokens'] | null;
}

/**
 * The post a run wrote for its task, and the run's token usage (recorded on the task, under the
 * post's model).
 */
export type CompletedPost = Pick<
  Post,
  'id' | 'taskId' | 'personaId' | 'hook' | 'body' | 'tokensUsed' | 'model' | 'latencyMs'
> &
  Pick<Task, 'promptTokens' | 'completionTokens'>;

/** A task that moved to succeeded: where its webhook goes, if anywhere. */
export type SucceededTask = Pick<Task, 'id' | 'callbackUrl'>;

/**
 * Tasks per statement. A worker has at most WORKER_CONCURRENCY calls of a kind in flight, so
 * this only bounds the worst case (statement size, rows locked by one transaction).
 */
export const MAX_WRITE_BATCH = 200;

/*
 * Both statements take arrays, so their text is the same for any batch size and each stays one
 * named prepared statement (runSql). A batch never names a task twice (splitBatches in
 * group-commit.ts).
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
  SELECT c.id, c.task_type AS "taskType", c.input, c.persona_id AS "personaId",
         p.name AS "personaName", p.system_prompt AS "systemPrompt", p.model, p.temperature,
         p.max_tokens AS "maxTokens"
  FROM claimed c LEFT JOIN personas p ON p.id = c.persona_id`;

/*
 * Statuses, posts and webhook events in one statement, hence one implicit transaction. A status
 * only moves from running, and a post (and the task.succeeded event of a task with a callback)
 * is written only for a task this statement moved: a task cancelled (or finished by another run)
 * meanwhile gets neither. Of two concurrent runs of a task exactly one sees its row come back
 * (and announces the result); ON CONFLICT keeps the first post should a running task somehow
 * have one already.
 */
const COMPLETE_SQL = `
  WITH done AS (
    UPDATE tasks SET status = 'succeeded', last_error = NULL, finished_at = now(), updated_at = now(),
      prompt_tokens = u.run_prompt_tokens, completion_tokens = u.run_completion_tokens, model = u.run_model
    FROM unnest($1::uuid[], $9::int[], $10::int[], $7::varchar[])
      AS u(run_task_id, run_prompt_tokens, run_completion_tokens, run_model)
    WHERE tasks.id = u.run_task_id AND tasks.status = 'running'
    RETURNING ${TASK_ROW_COLUMNS}
  ), post AS (
    INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    SELECT v.id, v.task_id, v.persona_id, v.hook, v.body, v.tokens_used, v.model, v.latency_ms
    FROM unnest($2::uuid[], $1::uuid[], $3::varchar[], $4::text[], $5::text[], $6::int[], $7::varchar[], $8::int[])
      AS v(id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    JOIN done ON done.id = v.task_id
    ON CONFLICT (task_id) DO NOTHING
    RETURNING id, task_id, persona_id, hook, body, tokens_used, model, latency_ms, created_at
  ), event AS (
    ${taskEventInsert({ type: 'task.succeeded', from: 'done', postJoin: 'LEFT JOIN post p ON p.task_id = t.id' })}
  )
  SELECT id, callback_url AS "callbackUrl" FROM done`;

/**
 * queued | running -> running, attempts + 1, for a batch in one statement, with each task's
 * persona. A task that is not runnable (cancelled, finished, gone) is missing from the result.
 */
export async function claimTasks(db: Queryable, args: { ids: string[] }): Promise<ClaimedTask[]> {
  const { rows } = await runSql<ClaimedTask>(db, CLAIM_SQL, [args.ids]);
  return rows;
}

/**
 * running -> succeeded with the run's post and usage (and its task.succeeded webhook event when the task
 * has a callback), for a batch in one statement. A task that was not running is missing from the
 * result and gets neither; the post is kept only when the task has none yet.
 */
export async function completeTasks(
  db: Queryable,
  args: { posts: CompletedPost[] },
): Promise<SucceededTask[]> {
  const { posts } = args;
  const { rows } = await runSql<SucceededTask>(db, COMPLETE_SQL, [
    posts.map((p) => p.taskId),
    posts.map((p) => p.id),
    posts.map((p) => p.personaId),
    posts.map((p) => p.hook),
    posts.map((p) => p.body),
    posts.map((p) => p.tokensUsed),
    posts.map((p) => p.model),
    posts.map((p) => p.latencyMs),
    posts.map((p) => p.promptTokens),
    posts.map((p) => p.completionTokens),
  ]);
  return rows;
}

/**
 * Postgres reads a uuid in several spellings and returns it in one; matching returned rows to
 * callers (and finding repeated tasks in a batch) needs one spelling.
 */
function uuidKey(id: string): string {
  const hex = id.replace(/[{}-]/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? hex : id;
}

export interface TaskWriteBatcherOptions {
  /** How long a batch gathers calls (GroupCommitOptions.windowMs); WORKER_WRITE_WINDOW_MS. */
  windowMs?: number;
}

/**
 * Group commit (GroupCommitQueue) of the worker's two per-task statements, the claim and the
 * completion, across concurrent jobs. With many jobs in flight and a fast LLM, Postgres spent
 * most of its CPU on per-statement and per-commit overhead rather than on the rows.
 */
export class TaskWriteBatcher {
  private readonly claims: GroupCommitQueue<string, ClaimedTask>;
  private readonly completions: GroupCommitQueue<CompletedPost, SucceededTask>;

  constructor(pool: Pool, options: TaskWriteBatcherOptions = {}) {
    const { windowMs } = options;
    this.claims = new GroupCommitQueue<string, ClaimedTask>({
      key: uuidKey,
      maxBatch: MAX_WRITE_BATCH,
      windowMs,
      isRowError,
      execute: async (ids) => {
        const rows = await claimTasks(pool, { ids });
        return new Map(rows.map((row) => [uuidKey(row.id), row]));
      },
    });
    this.completions = new GroupCommitQueue<CompletedPost, SucceededTask>({
      key: (post) => uuidKey(post.taskId),
      maxBatch: MAX_WRITE_BATCH,
      windowMs,
      isRowError,
      // A completion carries a finished LLM run, and running it again is harmless (it moves only
      // running tasks): a broken connection must not throw a whole batch of them away.
      isConnectionError,
      execute: async (posts) => {
        const rows = await completeTasks(pool, { posts });
        return new Map(rows.map((row) => [uuidKey(row.id), row]));
      },
    });
  }

  /**
   * Claims a queued or running task (attempts + 1) and reads its persona; null when the task is
   * not runnable (cancelled, finished or gone). `personaName` is null when the persona is gone.
   */
  claim(taskId: string): Promise<ClaimedTask | null> {
    return this.claims.submit(taskId);
  }

  /**
   * Writes the post (unless the task has one) and moves the task from running to succeeded;
   * null when the task was not running (another run finished it first, or it was cancelled).
   */
  complete(post: CompletedPost): Promise<SucceededTask | null> {
    return this.completions.submit(post);
  }
}
