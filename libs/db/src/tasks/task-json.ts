import type { Post } from '../entities/post.entity';
import type { TaskStatus } from '../entities/task-status';
import type { Task, TaskInput } from '../entities/task.entity';

/** A post as the API and the webhooks show it. */
export interface PostJson {
  id: string;
  task_id: string;
  persona_id: string;
  hook: string;
  body: string;
  tokens_used: number;
  model: string;
  latency_ms: number;
  created_at: string;
}

/** The tokens a task's successful run used, as the provider reported them (or as counted). */
export interface TaskUsageJson {
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * A task as every client of the platform sees it: the API's answers (create, get, long-poll,
 * list, cancel, retry) and the `task` of a webhook event. Client-side fields (the idempotency
 * key, the request fingerprint, the client id) stay out.
 */
export interface TaskJson {
  id: string;
  persona_id: string;
  task_type: string;
  status: TaskStatus;
  input: TaskInput;
  attempts: number;
  last_error: string | null;
  request_id: string | null;
  callback_url: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  /** Null until the task succeeded. */
  usage: TaskUsageJson | null;
  post: PostJson | null;
}

export function postJson(post: Post): PostJson {
  return {
    id: post.id,
    task_id: post.taskId,
    persona_id: post.personaId,
    hook: post.hook,
    body: post.body,
    tokens_used: post.tokensUsed,
    model: post.model,
    latency_ms: post.latencyMs,
    created_at: post.createdAt.toISOString(),
  };
}

/** The one place a task's JSON is built. */
export function taskJson(task: Task, post: Post | null = null): TaskJson {
  return {
    id: task.id,
    persona_id: task.personaId,
    task_type: task.taskType,
    status: task.status,
    input: task.input,
    attempts: task.attempts,
    last_error: task.lastError,
    request_id: task.requestId,
    callback_url: task.callbackUrl,
    created_at: task.createdAt.toISOString(),
    started_at: task.startedAt?.toISOString() ?? null,
    finished_at: task.finishedAt?.toISOString() ?? null,
    updated_at: task.updatedAt.toISOString(),
    usage:
      task.promptTokens === null || task.completionTokens === null
        ? null
        : {
            model: task.model ?? '',
            prompt_tokens: task.promptTokens,
            completion_tokens: task.completionTokens,
          },
    post: post ? postJson(post) : null,
  };
}
