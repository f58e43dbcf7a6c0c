import { z } from 'zod';
import { envBool, envInt, envNumber, envUrl } from './env.helpers';
import { httpEdgeEnv } from './http-edge.env';
import { protectionEnv } from './protection.env';
import { webhookSigningKeys } from './webhook-secrets';

/**
 * The one environment schema every process of the platform validates at boot.
 * Each variable carries its default and a description; `.env.example` and the
 * table in docs/configuration.md are generated from this object (`npm run env:docs`) and a unit
 * test fails when they drift.
 *
 * Sections are separate objects so that features add their own variables without
 * touching each other's lines.
 */
export const runtimeEnv = {
  NODE_ENV: z
    .enum(['development', 'test', 'production'])
    .default('development')
    .describe('development | test | production. Production refuses unsafe defaults.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  HTTP_HOST: z.string().min(1).default('0.0.0.0').describe('Interface the HTTP servers bind to.'),
};

export const databaseEnv = {
  DATABASE_URL: envUrl('postgres://postgres:postgres@127.0.0.1:5432/agent_platform', [
    'postgres:',
    'postgresql:',
  ]).describe('Postgres connection URL (source of truth for tasks, personas and posts).'),
  DB_POOL_MAX: envInt(30, 2, 1000).describe(
    "Connections per process, both pools together: a quarter (at least 1) for TypeORM's (personas, posts, readiness), the rest for the task statements. Seed: pool 10 + overflow 20 = 30. Keep replicas x pool under max_connections.",
  ),
  DB_POOL_ACQUIRE_TIMEOUT_MS: envInt(3000, 100, 60000).describe(
    'Wait for a free pooled connection (or a new one) before failing with 503. The seed waited 30 s; a client is better served by a fast 503.',
  ),
  DB_POOL_IDLE_TIMEOUT_MS: envInt(30000, 1000).describe('Close a pooled connection idle this long.'),
  DB_POOL_MAX_LIFETIME_S: envInt(3600, 0).describe(
    'Recycle a connection after this many seconds (seed: recycle 3600 s); 0 = never.',
  ),
  DB_STATEMENT_TIMEOUT_MS: envInt(5000, 0).describe(
    'Postgres statement_timeout for every API/worker query; 0 disables it.',
  ),
};

export const redisEnv = {
  REDIS_URL: envUrl('redis://127.0.0.1:6379', ['redis:', 'rediss:']).describe(
    'Redis URL for the Bull queue, task events and rate-limit counters. A /N path selects database N.',
  ),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, { message: 'letters, digits, "_", "." and "-" only (1-64)' })
    .default('agent-platform')
    .describe('Prefix of every Redis key the platform writes (Bull queues, events, limits).'),
};

export const orchestratorEnv = {
  ORCHESTRATOR_PORT: envInt(8080, 0, 65535).describe(
    'Orchestrator HTTP port: the API and health; /metrics and /docs too outside production (see ORCHESTRATOR_INTERNAL_PORT).',
  ),
  BODY_LIMIT_BYTES: envInt(65536, 1024, 10 * 1024 * 1024).describe(
    'Largest request body accepted; larger bodies get 413.',
  ),
  ENQUEUE_TIMEOUT_MS: envInt(1000, 50, 30000).describe(
    'Deadline for adding a job to Redis (after POST /v1/tasks answered 202, on retry, on reconcile); a job not taken in time is added later by the reconciler.',
  ),
  LONG_POLL_MAX_WAIT_S: envInt(30, 0, 300).describe('Cap on GET /v1/tasks/:id?wait=N.'),
  LONG_POLL_RECHECK_MS: envInt(2000, 100, 60000).describe(
    'While long-polling, re-read the task this often in case a completion event was missed.',
  ),
  RECONCILER_ENABLED: envBool(true).describe(
    'Run the reconciler that re-enqueues queued tasks whose Bull job is missing.',
  ),
  RECONCILER_INTERVAL_MS: envInt(5000, 100).describe('How often the reconciler looks for stuck tasks.'),
  RECONCILER_GRACE_MS: envInt(10000, 0).describe(
    'A queued task younger than this is left alone (its enqueue may still be in flight).',
  ),
  RECONCILER_STALE_RUNNING_MS: envInt(300000, 1000).describe(
    'A running task not updated for this long whose job is finished in Redis is queued again (one whose job is missing goes after WORKER_LOCK_DURATION_MS).',
  ),
  RECONCILER_BATCH_SIZE: envInt(500, 1, 10000).describe(
    'Tasks read per page of the reconciler sweep; each pass sweeps every candidate, page by page.',
  ),
};

export const workerEnv = {
  WORKER_HEALTH_PORT: envInt(8081, 0, 65535).describe('Agent worker HTTP port (health, metrics).'),
  WORKER_CONCURRENCY: envInt(16, 1, 1000).describe(
    'Jobs one worker process runs at once outside LLM calls: claims, prompts, guardrail, writes (and, with the builtin provider, the generation itself, which is CPU work).',
  ),
  WORKER_WRITE_WINDOW_MS: envInt(0, 0, 1000).describe(
    'How long the worker gathers task claims and completions into one statement (0: the next event-loop turn); each task waits up to twice this.',
  ),
};

export const healthEnv = {
  HEALTH_CHECK_TIMEOUT_MS: envInt(1000, 50, 30000).describe(
    'Each readiness check (database, Redis, ...) gives up after this long and reports down.',
  ),
  SHUTDOWN_GRACE_MS: envInt(5000, 0, 120000).describe(
    'On SIGTERM readiness turns 503 at once and the app keeps serving this long (so load balancers stop sending) before closing. Keep well under the Kubernetes termination grace period.',
  ),
};

// ---- agent worker jobs, LLM provider, circuit breaker, llm-sim, webhooks ----

/** A comma-separated list of HTTP status codes, e.g. "500,502,503". */
const envStatusList = (fallback: string, min: number, max: number) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((codes) => codes.length > 0 && codes.every((c) => /^\d+$/.test(c) && +c >= min && +c <= max), {
      message: `must be a comma-separated list of status codes between ${min} and ${max}`,
    })
    .transform((codes) => codes.map(Number));

export const workerJobsEnv = {
  WORKER_LOCK_DURATION_MS: envInt(15000, 1000, 600000).describe(
    "A job's lock lives this long and is renewed at half of it. A crashed worker's jobs come back after at most this plus WORKER_STALLED_INTERVAL_MS (Bull's default is 30 s + 30 s).",
  ),
  WORKER_STALLED_INTERVAL_MS: envInt(5000, 100, 600000).describe(
    'How often each worker looks for jobs whose lock expired (their worker died) and puts them back in the queue.',
  ),
  WORKER_MAX_STALLED_COUNT: envInt(2, 0, 100).describe(
    'A job whose worker dies more often than this is failed (a poison pill that crashes workers), not re-run forever.',
  ),
  WORKER_SHUTDOWN_GRACE_MS: envInt(20000, 0, 600000).describe(
    'On SIGTERM the worker stops taking jobs and waits this long for the running ones; the rest come back through stalled-job recovery. A second SIGTERM exits at once. Keep it plus SHUTDOWN_GRACE_MS under the Kubernetes termination grace period.',
  ),
  WORKER_BACKOFF_BASE_MS: envInt(1000, 1, 3600000).describe(
    'First retry delay of a failed task attempt; doubles per attempt, with jitter (see docs/worker.md).',
  ),
  WORKER_BACKOFF_MAX_MS: envInt(60000, 1, 86400000).describe('Cap on one retry delay of a task attempt.'),
  WORKER_REDIS_RECONNECT_MAX_MS: envInt(2000, 50, 60000).describe(
    "Cap on the worker's Redis reconnect back-off (Bull's default grows to 20 s, which would idle the worker long after Redis is back).",
  ),
  WORKER_HOOK_MAX_CHARS: envInt(280, 10, 10000).describe('Guardrail: longest hook accepted from the model.'),
  WORKER_BODY_MAX_CHARS: envInt(3000, 50, 100000).describe(
    'Guardrail: longest post body accepted from the model.',
  ),
  WORKER_GUARDRAIL_BLOCKLIST: z
    .string()
    .default('as an ai language model,lorem ipsum')
    .describe(
      'Guardrail: comma-separated terms (case-insensitive) that must not appear in a hook or body; a match fails the task for good.',
    ),
};

export const llmEnv = {
  LLM_PROVIDER: z
    .enum(['builtin', 'openai'])
    .default('builtin')
    .describe(
      'builtin: deterministic local generator, no network. openai: any OpenAI-compatible Chat Completions API (OpenAI, vLLM, Ollama, llm-sim).',
    ),
  LLM_BASE_URL: envUrl('http://127.0.0.1:8090/v1', ['http:', 'https:']).describe(
    'Base URL of the OpenAI-compatible API (the worker POSTs to <base>/chat/completions).',
  ),
  LLM_API_KEY: z
    .string()
    .default('')
    .describe('Bearer token for the LLM API (secret; empty sends no Authorization header).'),
  LLM_MODEL: z.string().default('').describe("Model for every request; empty uses each persona's model."),
  LLM_MAX_IN_FLIGHT: z
    .string()
    .default('auto')
    .refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) <= 100000), {
      message: 'must be auto or a whole number from 0 to 100000',
    })
    .transform((v): number | 'auto' => (v === 'auto' ? 'auto' : Number(v)))
    .describe(
      'LLM calls one worker process keeps in flight (I/O: a job waiting on the model does not count against WORKER_CONCURRENCY); the worker takes WORKER_CONCURRENCY + this many jobs at once. auto: 1000 with the openai provider, 0 with builtin (its calls are CPU work, inside WORKER_CONCURRENCY).',
    ),
  LLM_STREAM: envBool(true).describe(
    'openai provider: ask for a streamed answer (stream: true, usage in the last chunk) and relay its deltas live (see WORKER_DELTA_*). A server that answers with plain JSON still works.',
  ),
  LLM_MAX_REQUESTS_PER_MINUTE: envInt(0, 0, 100000000).describe(
    'Provider budget: LLM requests a minute for all workers together (one budget in Redis per endpoint, spaced evenly); 0: no budget.',
  ),
  LLM_MAX_TOKENS_PER_MINUTE: envInt(0, 0, 10000000000).describe(
    'Provider budget: tokens a minute for all workers together (a call reserves its prompt estimate + max_tokens, unused tokens are given back); 0: no budget.',
  ),
  LLM_BUDGET_MAX_WAIT_MS: envInt(10000, 0, 3600000).describe(
    'A call waits in the worker this long at most for budget (or for a Retry-After pause); a longer wait puts the job back in the queue for that long, without spending an attempt. Kept well under WORKER_SHUTDOWN_GRACE_MS, so that a job waiting at SIGTERM still makes its call within the grace.',
  ),
  LLM_MAX_RETRIES: envInt(2, 0, 10).describe(
    'Quick retries of one LLM call inside a task attempt (5xx, 408, 429, network, timeout), each through the breaker; the task-level retries come after.',
  ),
  LLM_RETRY_BASE_MS: envInt(250, 1, 60000).describe(
    'First delay between quick LLM retries; doubles, with jitter.',
  ),
};

export const taskDeltasEnv = {
  WORKER_DELTA_FLUSH_MS: envInt(100, 0, 10000).describe(
    "The model's output is published to Redis at most this often per task (text gathered in between goes out as one delta); 0 publishes every chunk as read.",
  ),
  WORKER_DELTA_REPLAY_TTL_S: envInt(60, 1, 86400).describe(
    "How long a task's recent deltas stay in Redis after its last one, for a live view that reconnects (a capped stream per task).",
  ),
};

export const llmBreakerEnv = {
  LLM_BREAKER_TIMEOUT_MS: envInt(30000, 10, 600000).describe(
    'An LLM call slower than this counts as a failure and its HTTP request is aborted.',
  ),
  LLM_BREAKER_ERROR_THRESHOLD_PERCENT: envNumber(50, 1, 100).describe(
    'The breaker opens when more than this percentage of calls in the rolling window failed.',
  ),
  LLM_BREAKER_RESET_TIMEOUT_MS: envInt(10000, 10, 3600000).describe(
    'How long an open breaker fails fast before letting one trial call through (half-open). The seed used 10 s.',
  ),
  LLM_BREAKER_VOLUME_THRESHOLD: envInt(20, 1, 100000).describe(
    'Calls needed in the rolling window before the breaker may open (0 would let one early failure open it).',
  ),
  LLM_BREAKER_ROLLING_WINDOW_MS: envInt(10000, 100, 3600000).describe(
    'Length of the rolling statistics window. Keep it <= LLM_BREAKER_RESET_TIMEOUT_MS so failures from before an outage have aged out when the breaker closes.',
  ),
  LLM_BREAKER_ROLLING_BUCKETS: envInt(10, 1, 1000).describe('Buckets the rolling window is divided into.'),
};

export const llmSimEnv = {
  LLM_SIM_PORT: envInt(8090, 0, 65535).describe(
    'llm-sim HTTP port (OpenAI-compatible /v1/chat/completions, /admin, /health/live).',
  ),
  LLM_SIM_LATENCY_MS: envInt(50, 0, 600000).describe('llm-sim: mean latency of a reply.'),
  LLM_SIM_JITTER_MS: envInt(0, 0, 600000).describe(
    'llm-sim: latency varies uniformly by up to this much either side of the mean.',
  ),
  LLM_SIM_ERROR_RATE: envNumber(0, 0, 1).describe(
    'llm-sim: share of requests answered with an error status (0..1).',
  ),
  LLM_SIM_ERROR_STATUS: envStatusList('500,502,503', 400, 599).describe(
    'llm-sim: status codes used for simulated errors, picked at random.',
  ),
  LLM_SIM_TIMEOUT_RATE: envNumber(0, 0, 1).describe(
    'llm-sim: share of requests never answered (the client must time out).',
  ),
  LLM_SIM_OUTAGE: envBool(false).describe('llm-sim: answer every request with 503 (full outage).'),
  LLM_SIM_RATE_LIMIT_RATE: envNumber(0, 0, 1).describe(
    'llm-sim: share of requests answered 429 with Retry-After.',
  ),
  LLM_SIM_RETRY_AFTER_S: envInt(1, 0, 3600).describe(
    'llm-sim: Retry-After (seconds) sent with simulated 429s.',
  ),
  LLM_SIM_RPM_LIMIT: envInt(0, 0, 100000000).describe(
    'llm-sim: requests a minute it accepts, enforced like a provider over short periods (a bucket of one second of it, refilled evenly); beyond: 429 with Retry-After. 0: no limit.',
  ),
  LLM_SIM_STREAM_CHUNK_MS: envInt(0, 0, 60000).describe(
    'llm-sim: delay between the chunks of a streamed answer (stream: true), after the latency; 0 sends them back to back.',
  ),
  LLM_SIM_STREAM_BREAK_RATE: envNumber(0, 0, 1).describe(
    'llm-sim: share of streamed answers cut off mid-way (the connection closes before [DONE]).',
  ),
};

export const webhookEnv = {
  WEBHOOKS_ENABLED: envBool(true).describe(
    'Accept a callback_url in POST /v1/tasks (webhooks on terminal states). With NODE_ENV=production the orchestrator refuses to start while this is true and WEBHOOK_SECRET is empty; false refuses a callback_url with 400.',
  ),
  WEBHOOK_SECRET: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      try {
        webhookSigningKeys(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .describe(
      'Standard Webhooks signing secrets (whsec_ + base64 of 24-64 random bytes), separated by spaces: every one signs each delivery, so a secret is rotated by listing the new one beside the old. Secret. Empty: tasks with a callback_url get no webhook (a warning is logged).',
    ),
  WEBHOOK_TIMEOUT_MS: envInt(5000, 100, 120000).describe('One webhook delivery gives up after this long.'),
  WEBHOOK_MAX_ATTEMPTS: envInt(8, 1, 100).describe(
    'Deliveries tried per webhook event (exponential backoff with jitter) before it is kept as failed.',
  ),
  WEBHOOK_BACKOFF_BASE_MS: envInt(1000, 1, 3600000).describe(
    'First retry delay of a webhook delivery; doubles per attempt, capped at 1 h.',
  ),
  WEBHOOK_CONCURRENCY: envInt(4, 1, 1000).describe('Webhook deliveries one worker process makes at once.'),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: envBool(false).describe(
    'Allow callback URLs that resolve to loopback, private, link-local or other internal addresses. Off by default so a task cannot make the worker call into the cluster (SSRF).',
  ),
};

export const envSchema = z.object({
  ...runtimeEnv,
  ...databaseEnv,
  ...redisEnv,
  ...orchestratorEnv,
  ...workerEnv,
  ...healthEnv,
  ...workerJobsEnv,
  ...llmEnv,
  ...taskDeltasEnv,
  ...llmBreakerEnv,
  ...llmSimEnv,
  ...webhookEnv,
  ...protectionEnv,
  ...httpEdgeEnv,
});

export type AppEnv = z.infer<typeof envSchema>;
