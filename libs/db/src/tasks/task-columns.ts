import type { Post } from '../entities/post.entity';
import type { Task } from '../entities/task.entity';

/*
 * The row mapping of hand-written task SQL, in one place: each statement selects (or returns)
 * the columns under the entity's property names, so its rows are `Task` and `Post` objects as
 * they come from pg, with no copy in between. The maps are typed against the entities: a column
 * added to an entity and not here is a compile error, and libs/db/test checks them against the
 * migrated schema.
 */

type Columns<E> = { readonly [P in keyof E]-?: string };

const TASK_FIELDS: Columns<Omit<Task, 'persona'>> = {
  id: 'id',
  personaId: 'persona_id',
  taskType: 'task_type',
  input: 'input',
  status: 'status',
  attempts: 'attempts',
  lastError: 'last_error',
  tenant: 'tenant',
  clientId: 'client_id',
  idempotencyKey: 'idempotency_key',
  requestFingerprint: 'request_fingerprint',
  requestId: 'request_id',
  callbackUrl: 'callback_url',
  createdAt: 'created_at',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  updatedAt: 'updated_at',
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
  model: 'model',
};

const POST_FIELDS: Columns<Omit<Post, 'task' | 'persona'>> = {
  id: 'id',
  taskId: 'task_id',
  personaId: 'persona_id',
  tenant: 'tenant',
  hook: 'hook',
  body: 'body',
  tokensUsed: 'tokens_used',
  model: 'model',
  latencyMs: 'latency_ms',
  createdAt: 'created_at',
};

/** The column names of `tasks` and `posts` this mapping reads (checked against the schema in tests). */
export const MAPPED_COLUMNS = {
  tasks: Object.values(TASK_FIELDS),
  posts: Object.values(POST_FIELDS),
};

function selectList(fields: Record<string, string>, table = '', prefix = ''): string {
  const qualifier = table ? `${table}.` : '';
  return Object.entries(fields)
    .map(([property, column]) => `${qualifier}${column} AS "${prefix}${property}"`)
    .join(', ');
}

/** Every column of `tasks` as a `Task`: for `SELECT ... FROM tasks` and `RETURNING` (never `*`; see runSql). */
export const TASK_COLUMNS = selectList(TASK_FIELDS);

const POST_PREFIX = 'post.';

/** A task and its post from `tasks t LEFT JOIN posts p`: read back with taskWithPostFromRow. */
export const TASK_WITH_POST_COLUMNS = `${selectList(TASK_FIELDS, 't')}, ${selectList(POST_FIELDS, 'p', POST_PREFIX)}`;

export interface TaskWithPost {
  task: Task;
  /** The agent's output, once the task succeeded; null before (and for a task that did not succeed). */
  post: Post | null;
}

/** Splits a row read with TASK_WITH_POST_COLUMNS into the task and its post (null when the join found none). */
export function taskWithPostFromRow(row: Record<string, unknown>): TaskWithPost {
  const task: Record<string, unknown> = {};
  const post: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith(POST_PREFIX)) post[key.slice(POST_PREFIX.length)] = value;
    else task[key] = value;
  }
  return {
    task: task as unknown as Task,
    post: post.id === null || post.id === undefined ? null : (post as unknown as Post),
  };
}
