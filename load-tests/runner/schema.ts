import { z } from 'zod';
import { TEMPLATE_VARS, templateVars } from '../lib/scenario';

/**
 * The scenario file format (load-tests/scenarios/*.json), read by this runner and by the k6 scripts. A
 * file that breaks it fails to load with every problem named. The metric catalog lives here too, so a
 * threshold naming an unknown metric fails at load time, not after the run.
 */
export const BLOCK_METRICS = [
  'p50_ms',
  'p90_ms',
  'p95_ms',
  'p99_ms',
  'avg_ms',
  'max_ms',
  'requests',
  'rps',
  'success_rate',
  'rate_limited_rate',
  'shed_rate',
  'error_rate',
  'errors',
  'rate_limited',
  'shed',
  'efficiency',
] as const;
export const TASK_METRICS = [
  'tasks.accepted',
  'tasks.lost',
  'tasks.missing',
  'tasks.unfinished',
  'tasks.duplicates',
  'tasks.failed',
  'tasks.succeeded_without_post',
  'tasks.succeeded_rate',
  'tasks.completion_p50_ms',
  'tasks.completion_p95_ms',
] as const;
export const PROCESS_METRIC = /^process\.([a-z0-9-]+)\.(peak_rss_mb|avg_cpu_pct|peak_cpu_pct|rss_growth_mb)$/;
export const METRIC_NAMES = [
  ...BLOCK_METRICS,
  ...TASK_METRICS,
  'drift.p95_ratio',
  'process.<name>.peak_rss_mb|avg_cpu_pct|peak_cpu_pct|rss_growth_mb',
];
export const isKnownMetric = (m: string): boolean =>
  (METRIC_NAMES as readonly string[]).includes(m) || PROCESS_METRIC.test(m);

const duration = z.union([z.string(), z.number().nonnegative()]);
const thinkValue = z.union([
  z.number().nonnegative(),
  z.object({ min: z.number().nonnegative(), max: z.number().nonnegative() }).strict(),
]);
const envVar = z.string().regex(/^[A-Z][A-Z0-9_]*$/);
const knobs = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const stage = z
  .object({
    name: z.string().optional(),
    duration,
    target: z.number().int().nonnegative(),
    ramp: z.enum(['linear', 'step']).default('linear'),
    /** --var / environment variable that overrides this stage's duration (the soak's length). */
    durationVar: envVar.optional(),
  })
  .strict();

const request = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'snake_case request name'),
    weight: z.number().nonnegative(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().startsWith('/'),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
    /** Statuses that count as success; default: any 2xx. */
    expect: z.array(z.number().int().min(100).max(599)).optional(),
    /** The answer is a created task: its id is followed to a terminal state and reused by {{taskId}}. */
    createsTask: z.boolean().default(false),
    /** Reported on its own and left out of the merged latency percentiles. */
    longPoll: z.boolean().default(false),
    /** An endpoint the target may lack (/metrics): a 404 drops it from the mix with a note. */
    optional: z.boolean().default(false),
  })
  .strict();

const threshold = z
  .object({
    metric: z.string().min(1),
    request: z.string().optional(),
    stage: z.string().optional(),
    max: z.number().optional(),
    min: z.number().optional(),
    /** Against the bare baseline of the same run (--baseline): value / baseline's value. */
    maxRatio: z.number().positive().optional(),
    minRatio: z.number().positive().optional(),
    /** Against the bare baseline of the same run: value - baseline's value (0.01 = 1 point of a rate). */
    maxDelta: z.number().optional(),
    minDelta: z.number().optional(),
    /** Shown, never failing the run: an absolute figure that says more about the machine than the code. */
    info: z.boolean().default(false),
    description: z.string().optional(),
  })
  .strict()
  .refine(
    (t) => [t.max, t.min, t.maxRatio, t.minRatio, t.maxDelta, t.minDelta].some((b) => b !== undefined),
    'a threshold needs max, min, maxRatio, minRatio, maxDelta or minDelta',
  )
  .refine(
    (t) =>
      [t.max, t.min].every((b) => b === undefined) ||
      [t.maxRatio, t.minRatio, t.maxDelta, t.minDelta].every((b) => b === undefined),
    'a threshold is absolute (max, min) or against the baseline (maxRatio, minRatio, maxDelta, minDelta), not both',
  );

/** Something the local stack does at a moment of the load: replace the API replicas, or turn an llm-sim knob. */
const event = z
  .object({
    at: duration,
    action: z.enum(['rolling-restart', 'llm-sim']),
    knobs: knobs.optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[a-z0-9-]+$/),
    description: z.string(),
    /**
     * Think-time users; a closed loop (no pause, fixed connection counts); or paced users, each starting a
     * request every thinkTime.success seconds whatever the latency (a smooth, open-loop arrival rate of
     * users / pace while latency stays under the pace).
     */
    model: z.enum(['users', 'closed-loop', 'paced']).default('users'),
    stages: z.array(stage).min(1),
    /** Stop once the users together have sent this many requests (k6's shared-iterations). */
    iterations: z.number().int().positive().optional(),
    iterationsVar: envVar.optional(),
    thinkTime: z
      .object({ success: thinkValue, other: thinkValue })
      .catchall(thinkValue)
      .superRefine((rules, ctx) => {
        for (const key of Object.keys(rules))
          if (key !== 'success' && key !== 'other' && !/^[1-5]\d\d$/.test(key))
            ctx.addIssue({
              code: 'custom',
              message: `thinkTime key "${key}" is not success, other or a status`,
            });
      }),
    requests: z.array(request).min(1),
    thresholds: z.array(threshold).default([]),
    followTasks: z.boolean().default(true),
    drainTimeout: duration.default('60s'),
    requestTimeout: duration.default('30s'),
    gracefulStop: duration.default('10s'),
    /** Keys load-test:local issues and their rate-limit tier. */
    auth: z
      .object({ tier: z.string().default('loadtest'), keys: z.number().int().min(1).max(1000).default(1) })
      .strict()
      .default({ tier: 'loadtest', keys: 1 }),
    /** The stack load-test:local starts (ignored against a running target). */
    stack: z
      .object({
        env: z.record(z.string(), z.string()).default({}),
        llmSim: knobs.default({}),
        /** "llm-sim" (when built) or "builtin": no downstream at all, for runs that measure the platform. */
        provider: z.enum(['llm-sim', 'builtin']).default('llm-sim'),
        /** Orchestrator replicas: more than one puts HAProxy in front of them. */
        orchestrators: z.number().int().min(1).max(8).default(1),
        workers: z.number().int().min(0).max(8).default(1),
        events: z.array(event).default([]),
        /** Prometheus samples summed over the stack after the run, e.g. circuit_breaker_events_total{event="open"}. */
        metrics: z.array(z.string()).default([]),
      })
      .strict()
      .default({
        env: {},
        llmSim: {},
        provider: 'llm-sim',
        orchestrators: 1,
        workers: 1,
        events: [],
        metrics: [],
      }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const issue = (path: (string | number)[], message: string): void =>
      ctx.addIssue({ code: 'custom', path, message });
    const names = new Set<string>();
    for (const [i, r] of s.requests.entries()) {
      if (names.has(r.name)) issue(['requests', i, 'name'], `duplicate request name ${r.name}`);
      names.add(r.name);
      const text = `${r.path} ${JSON.stringify(r.headers ?? {})} ${JSON.stringify(r.body ?? null)}`;
      for (const v of templateVars(text))
        if (!TEMPLATE_VARS.includes(v))
          issue(['requests', i], `unknown template variable {{${v}}}; known: ${TEMPLATE_VARS.join(', ')}`);
    }
    for (const [i, t] of s.thresholds.entries()) {
      if (!isKnownMetric(t.metric))
        issue(['thresholds', i, 'metric'], `unknown metric ${t.metric}; known: ${METRIC_NAMES.join(', ')}`);
      if (t.request && !names.has(t.request))
        issue(['thresholds', i, 'request'], `no request named ${t.request}`);
      if (t.stage && !s.stages.some((st) => st.name === t.stage))
        issue(['thresholds', i, 'stage'], `no stage named ${t.stage}`);
    }
    const usesTaskId = s.requests.some((r) => JSON.stringify(r).includes('{{taskId}}'));
    if (usesTaskId && !s.requests.some((r) => r.createsTask && r.weight > 0))
      issue(['requests'], 'a request uses {{taskId}} but no request with weight > 0 creates tasks');
    if (s.requests.every((r) => r.weight === 0)) issue(['requests'], 'every weight is 0');
  });

export type ScenarioFile = z.infer<typeof scenarioSchema>;
export type RequestSpec = ScenarioFile['requests'][number];
export type ThresholdSpec = ScenarioFile['thresholds'][number];
export type StackSpec = ScenarioFile['stack'];
