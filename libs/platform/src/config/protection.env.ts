import { z } from 'zod';
import { envBool, envInt } from './env.helpers';

/**
 * Protection and observability of the orchestrator (API keys, rate limits, load shedding,
 * proxies, CORS, request logs, bounded shutdown), kept in its own file so the shared schema
 * only gains one spread line.
 */

/**
 * Scopes an API key can hold. `admin` opens the queue dashboard and the admin API, and lets the
 * key's other scopes reach every tenant's records; it implies no other scope.
 */
export const API_SCOPES = ['tasks:read', 'tasks:write', 'personas:read', 'personas:admin', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const apiKeySchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'name must be 1-64 letters, digits, "_", "." or "-"' }),
    tier: z.string().min(1).default('default'),
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'tenant must be 1-64 letters, digits, "_", "." or "-"' })
      .optional(),
    scopes: z.array(z.enum(API_SCOPES)).min(1, { message: 'scopes must list at least one scope' }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, { message: 'sha256 must be the 64-hex-digit SHA-256 of the key' })
      .transform((h) => h.toLowerCase()),
  })
  .strict();
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;

const rateTierSchema = z
  .object({
    per_minute: z.number().int().min(1),
    burst_per_second: z.number().int().min(1),
  })
  .strict();
export type RateTier = z.infer<typeof rateTierSchema>;

/** A JSON-valued variable: parse errors are reported as "must be JSON: ..." under the variable's name. */
const jsonEnv = <T extends z.ZodType>(fallback: string, schema: T) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** Seed: 600 requests/min sustained with a burst allowance of 50 per second; `loadtest` for load tests. */
export const DEFAULT_RATE_LIMIT_TIERS = {
  default: { per_minute: 600, burst_per_second: 50 },
  loadtest: { per_minute: 6_000_000, burst_per_second: 100_000 },
};

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export const protectionEnv = {
  API_KEYS: jsonEnv('[]', z.array(apiKeySchema)).describe(
    'Bootstrap keys: JSON array of {"name","tier","scopes":[...],"sha256":"<hex SHA-256 of the key>","tenant"?}; tenant defaults to name. Clients send the key in X-API-Key. Keys minted through the admin API live in Postgres and work once auth is on. Empty: auth off (refused when NODE_ENV=production). `npm run api-key` mints one.',
  ),
  API_KEY_CACHE_TTL_MS: envInt(1000, 50, 2000).describe(
    'How long a replica trusts its cached answer for a Postgres-managed key, known or unknown. Revocation reaches every replica through Redis pub/sub at once, and through this expiry when a message is lost: within 2 s either way.',
  ),
  API_KEY_ROTATION_GRACE_S: envInt(86400, 0, 30 * 86400).describe(
    'After POST /v1/admin/api-keys/{id}/rotate, the old secret keeps working this long so clients can switch without downtime.',
  ),
  TENANT_MAX_ACTIVE_TASKS: envInt(0, 0, 10_000_000).describe(
    'Queued plus running tasks one tenant may have; beyond it POST /v1/tasks answers 429. 0: no quota. Counted per replica from Postgres every TENANT_QUOTA_REFRESH_MS, so a tenant can overshoot by what other replicas accepted since their last count.',
  ),
  TENANT_QUOTA_REFRESH_MS: envInt(1000, 100, 60000).describe(
    'How often each orchestrator replica re-counts active tasks per tenant (only when TENANT_MAX_ACTIVE_TASKS is set).',
  ),
  RATE_LIMIT_ENABLED: envBool(true).describe(
    'Limit requests per client (API key name, else client IP), counted in Redis so all replicas share the limit.',
  ),
  RATE_LIMIT_TIERS: jsonEnv(
    JSON.stringify(DEFAULT_RATE_LIMIT_TIERS),
    z
      .record(z.string().min(1), rateTierSchema)
      .refine((tiers) => 'default' in tiers, { message: 'must include a "default" tier' }),
  ).describe(
    'JSON {tier: {per_minute, burst_per_second}}; must include "default" (clients without a key). An API key picks its tier by name.',
  ),
  RATE_LIMIT_STORAGE_TIMEOUT_MS: envInt(250, 5, 5000).describe(
    'A rate-limit check that Redis has not answered in this long lets the request through (fail-open), counted in metrics.',
  ),
  MAX_IN_FLIGHT: envInt(200, 0, 100000).describe(
    'Requests served at once per orchestrator replica; beyond that a request waits for a slot (MAX_IN_FLIGHT_QUEUE_MS), then gets 503 + Retry-After. Long-polls waiting for a task do not count. 0 disables shedding. The seed used 100; at its own 150 users a replica briefly holds more than 100 healthy requests (GC pauses, bursts) and shed them (docs/PERFORMANCE.md).',
  ),
  MAX_IN_FLIGHT_QUEUE_MS: envInt(250, 0, 10000).describe(
    'A request that finds MAX_IN_FLIGHT requests in flight waits this long for a slot before it gets 503 (at most MAX_IN_FLIGHT wait; beyond that the 503 is immediate). It absorbs a pause (a GC, a checkpoint) without shedding; a sustained overload is still shed. 0: shed at once.',
  ),
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v, ctx): boolean | number | string => {
      if (v === 'true' || v === 'false') return v === 'true';
      if (/^\d+$/.test(v)) return Number(v);
      const entries = v.split(',').map((s) => s.trim());
      if (entries.every((e) => PROXY_NAMES.has(e) || /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(e))) {
        return entries.join(',');
      }
      ctx.addIssue({
        code: 'custom',
        message:
          'must be true, false, a hop count, or a comma list of proxy IPs/CIDRs (or loopback, linklocal, uniquelocal)',
      });
      return z.NEVER;
    })
    .describe(
      'Which X-Forwarded-For hops to believe for the client IP (rate limits): false, true, a hop count, or proxy IPs/CIDRs. Set it when running behind an ingress.',
    ),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const origins = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const origin of origins) {
        let ok = false;
        try {
          const url = new URL(origin);
          ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin;
        } catch {
          ok = false;
        }
        if (!ok) {
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an origin like https://app.example.com`,
          });
          return z.NEVER;
        }
      }
      return origins;
    })
    .describe('Comma list of browser origins allowed by CORS; empty = CORS off.'),
  LOG_REQUESTS: envBool(true).describe(
    'Log one line per HTTP request (method, route, status, duration, client; never the API key).',
  ),
  SHUTDOWN_DRAIN_MS: envInt(10000, 100, 120000).describe(
    'After SHUTDOWN_GRACE_MS, in-flight requests and pools get this long to finish before the process exits anyway. GRACE + DRAIN must stay under the Kubernetes grace period (30 s).',
  ),
};
