import createClient, { type Client } from 'openapi-fetch';
import { AgentPlatformError, TaskWaitTimeoutError } from './errors';
import { readTaskEvents, type TaskEvent, type TaskEventsOptions } from './events';
import { retryingFetch, type RetryPolicy } from './retry';
import type { components, operations, paths } from './schema';

type Schemas = components['schemas'];
export type Task = Schemas['TaskDto'];
export type TaskPage = Schemas['TaskPageDto'];
export type TaskStatus = Task['status'];
export type CreateTaskInput = Schemas['CreateTaskDto'];
export type ListTasksQuery = NonNullable<operations['listTasks']['parameters']['query']>;
export type Persona = Schemas['PersonaDto'];
export type PersonaPage = Schemas['PersonaPageDto'];
export type CreatePersonaInput = Schemas['CreatePersonaDto'];
export type UpdatePersonaInput = Schemas['UpdatePersonaDto'];
export type ListPersonasQuery = NonNullable<operations['listPersonas']['parameters']['query']>;
export type Post = Schemas['PostDto'];
export type PostPage = Schemas['PostPageDto'];
export type ListPostsQuery = NonNullable<operations['listPosts']['parameters']['query']>;

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface AgentPlatformClientOptions {
  /** Where the API is, e.g. http://127.0.0.1:8080 (without /v1). */
  baseUrl: string;
  /** Sent as X-API-Key on every request. */
  apiKey?: string;
  /** Retries of 429 and 503 after their Retry-After (default: 3 tries, waits up to 30 s). */
  retry?: RetryPolicy;
  /** The fetch to use (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

export interface WaitOptions {
  /** Give up after this long (default 60 s) with a TaskWaitTimeoutError. */
  timeoutMs?: number;
  /** Longest single long-poll, in seconds (default 30; the server caps it at LONG_POLL_MAX_WAIT_S). */
  pollSeconds?: number;
}

/** The data of a 2xx answer; anything else becomes an AgentPlatformError. */
async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new AgentPlatformError(response, error);
  return data as T;
}

/**
 * A typed client of the agent-platform API: openapi-fetch over the types openapi-typescript
 * generates from openapi.json. Every method resolves with the response body or throws an
 * AgentPlatformError carrying the API's error body and X-Request-ID.
 */
export function createAgentPlatformClient(options: AgentPlatformClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchFn = retryingFetch(options.fetch ?? ((request) => globalThis.fetch(request)), options.retry);
  const raw: Client<paths> = createClient<paths>({
    baseUrl,
    headers: options.apiKey ? { 'X-API-Key': options.apiKey } : {},
    fetch: fetchFn,
  });
  const id = (value: string) => ({ params: { path: { id: value } } });

  const tasks = {
    /** Submits a task (202), or replays the one created earlier with this Idempotency-Key (200). */
    create: (body: CreateTaskInput, opts: { idempotencyKey?: string } = {}): Promise<Task> =>
      unwrap(
        raw.POST('/v1/tasks', {
          body,
          params: { header: opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : {} },
        }),
      ),
    /** The task; with `wait`, long-polls up to that many seconds for a terminal status. */
    get: (taskId: string, opts: { wait?: number } = {}): Promise<Task> =>
      unwrap(raw.GET('/v1/tasks/{id}', { params: { path: { id: taskId }, query: { wait: opts.wait } } })),
    list: (query: ListTasksQuery = {}): Promise<TaskPage> =>
      unwrap(raw.GET('/v1/tasks', { params: { query } })),
    cancel: (taskId: string): Promise<Task> => unwrap(raw.POST('/v1/tasks/{id}/cancel', id(taskId))),
    retry: (taskId: string): Promise<Task> => unwrap(raw.POST('/v1/tasks/{id}/retry', id(taskId))),
    /**
     * The task's server-sent events (GET /v1/tasks/{id}/events): its status now and on every
     * change, and the model's output as it streams; the iteration ends after the terminal status.
     * Deltas are provisional: the final status (and its post) is the result.
     */
    events: (taskId: string, opts: TaskEventsOptions = {}): AsyncGenerator<TaskEvent> =>
      readTaskEvents(
        fetchFn,
        `${baseUrl}/v1/tasks/${encodeURIComponent(taskId)}/events`,
        options.apiKey ? { 'X-API-Key': options.apiKey } : {},
        opts,
      ),
    /**
     * Resolves once the task is succeeded, failed or cancelled, long-polling (GET ?wait=N) rather
     * than polling in a tight loop; throws TaskWaitTimeoutError after `timeoutMs`.
     */
    async waitFor(taskId: string, opts: WaitOptions = {}): Promise<Task> {
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
      const pollSeconds = opts.pollSeconds ?? 30;
      for (;;) {
        const remainingS = Math.ceil((deadline - Date.now()) / 1000);
        const task = await tasks.get(taskId, { wait: Math.max(0, Math.min(pollSeconds, remainingS)) });
        if (TERMINAL_STATUSES.has(task.status)) return task;
        if (Date.now() >= deadline) throw new TaskWaitTimeoutError(task);
      }
    },
  };

  const personas = {
    create: (body: CreatePersonaInput): Promise<Persona> => unwrap(raw.POST('/v1/personas', { body })),
    get: (personaId: string): Promise<Persona> => unwrap(raw.GET('/v1/personas/{id}', id(personaId))),
    list: (query: ListPersonasQuery = {}): Promise<PersonaPage> =>
      unwrap(raw.GET('/v1/personas', { params: { query } })),
    update: (personaId: string, body: UpdatePersonaInput): Promise<Persona> =>
      unwrap(raw.PATCH('/v1/personas/{id}', { ...id(personaId), body })),
    /** Archives the persona (its tasks and posts stay). */
    delete: async (personaId: string): Promise<void> => {
      await unwrap(raw.DELETE('/v1/personas/{id}', id(personaId)));
    },
  };

  const posts = {
    get: (postId: string): Promise<Post> => unwrap(raw.GET('/v1/posts/{id}', id(postId))),
    list: (query: ListPostsQuery = {}): Promise<PostPage> =>
      unwrap(raw.GET('/v1/posts', { params: { query } })),
  };

  return { tasks, personas, posts, raw };
}

export type AgentPlatformClient = ReturnType<typeof createAgentPlatformClient>;
