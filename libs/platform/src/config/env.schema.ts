import { z } from 'zod';
import { envBool, envInt, envUrl } from './env.helpers';
import { protectionEnv } from './protection.env';

/**
 * The one environment schema every process of the platform validates at boot.
 * Each variable carries its default and a description; `.env.example` and the README
 * configuration table are generated from this object (`npm run env:docs`) and a unit
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
  DB_POOL_MAX: envInt(30, 1, 1000).describe(
    'Connections per process. Seed: pool 10 + overflow 20 = 30. Keep replicas x pool under max_connections.',
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
  ORCHESTRATOR_PORT: envInt(8080, 0, 65535).describe('Orchestrator HTTP port (API, docs, health, metrics).'),
  BODY_LIMIT_BYTES: envInt(65536, 1024, 10 * 1024 * 1024).describe(
    'Largest request body accepted; larger bodies get 413.',
  ),
  ENQUEUE_TIMEOUT_MS: envInt(1000, 50, 30000).describe(
    'How long POST /v1/tasks waits for Redis to take the job before answering 202 anyway (the reconciler enqueues it later).',
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
    'A running task not updated for this long whose job is gone from Redis is queued again.',
  ),
  RECONCILER_BATCH_SIZE: envInt(500, 1, 10000).describe('Tasks examined per reconciler pass.'),
};

export const workerEnv = {
  WORKER_HEALTH_PORT: envInt(8081, 0, 65535).describe('Agent worker HTTP port (health, metrics).'),
  WORKER_CONCURRENCY: envInt(16, 1, 1000).describe('Jobs one worker process runs at once.'),
};

export const healthEnv = {
  HEALTH_CHECK_TIMEOUT_MS: envInt(1000, 50, 30000).describe(
    'Each readiness check (database, Redis, ...) gives up after this long and reports down.',
  ),
  SHUTDOWN_GRACE_MS: envInt(5000, 0, 120000).describe(
    'On SIGTERM readiness turns 503 at once and the app keeps serving this long (so load balancers stop sending) before closing. Keep well under the Kubernetes termination grace period.',
  ),
};

export const envSchema = z.object({
  ...runtimeEnv,
  ...databaseEnv,
  ...redisEnv,
  ...orchestratorEnv,
  ...workerEnv,
  ...healthEnv,
  ...protectionEnv,
});

export type AppEnv = z.infer<typeof envSchema>;
