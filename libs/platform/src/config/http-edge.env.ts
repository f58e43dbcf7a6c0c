import { z } from 'zod';
import { envInt } from './env.helpers';

/**
 * The orchestrator's HTTP edge: how long a client may take to send a request, how long an idle
 * keep-alive socket is kept, how many long-polls one replica holds, and the internal port that
 * serves metrics and API docs. Kept in its own file so the shared schema only gains one spread line.
 */
export const httpEdgeEnv = {
  ORCHESTRATOR_INTERNAL_PORT: z
    .string()
    .regex(/^\d+$/, { message: 'must be a port number in plain decimal digits (like 8082)' })
    .transform(Number)
    .pipe(z.number().max(65535, { message: 'must be <= 65535' }))
    .optional()
    .describe(
      'Internal port of the orchestrator: /metrics, /docs, /docs-json and the health routes, for Prometheus and operators; keep it off the ingress. With NODE_ENV=production the API port answers 404 for /metrics and /docs, so unset means they are served nowhere. Outside production the API port serves them too.',
    ),
  HTTP_REQUEST_TIMEOUT_MS: envInt(10000, 1000, 600000).describe(
    'A request whose headers and body have not fully arrived this long after it started gets 408 and its connection is closed, freeing its MAX_IN_FLIGHT slot (checked every second). Long-polls are not affected: their request is complete while they wait.',
  ),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: envInt(72000, 1000, 600000).describe(
    "An idle keep-alive connection is closed after this long. Keep it above the idle timeout of the load balancer in front (60 s for nginx ingress and AWS ALB), so the balancer never reuses a connection the app is closing (Fastify's default).",
  ),
  LONG_POLL_MAX_WAITERS: envInt(1000, 1, 1000000).describe(
    'Long-polls (GET /v1/tasks/:id?wait=N) and task event streams (GET /v1/tasks/:id/events) one replica holds at once; beyond that an authenticated one gets an immediate 503 + Retry-After. They do not count against MAX_IN_FLIGHT.',
  ),
  TASK_EVENTS_HEARTBEAT_MS: envInt(15000, 100, 600000).describe(
    'A task event stream (GET /v1/tasks/:id/events) sends a comment this often while nothing else happens, so proxies and clients see it alive, and re-reads the task then, so a status change whose message was lost still arrives.',
  ),
};
