import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration';
import { TEMPLATE_VARS, templateVars } from './mix';
import { describeStage, stageWindows, type StageWindow } from './stages';
import { formatDuration } from './duration';
import type { ThinkTimeRules } from './think-time';
import { METRIC_NAMES, isKnownMetric } from './thresholds';

/**
 * Scenarios are data (load-tests/scenarios/*.json), read by this runner and by the k6 scripts alike.
 * This schema is the contract; a scenario file that breaks it fails to load with the field named.
 */
export const SCENARIOS_DIR = path.resolve(__dirname, '..', 'scenarios');

const duration = z.union([z.string(), z.number().nonnegative()]);
const thinkValue = z.union([
  z.number().nonnegative(),
  z.object({ min: z.number().nonnegative(), max: z.number().nonnegative() }).strict(),
]);

const stageSchema = z
  .object({
    name: z.string().optional(),
    duration,
    target: z.number().int().nonnegative(),
    ramp: z.enum(['linear', 'step']).default('linear'),
    /** Environment variable / --var name that overrides this stage's duration (soak length). */
    durationVar: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .optional(),
  })
  .strict();

const requestSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'snake_case request name'),
    weight: z.number().nonnegative(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().startsWith('/'),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
    /** Statuses that count as success; default: any 2xx. */
    expect: z.array(z.number().int().min(100).max(599)).optional(),
    /** The response is a created task: its id is followed to a terminal state and reused by {{taskId}}. */
    createsTask: z.boolean().default(false),
    /** Long-polls: reported on its own and left out of the overall latency percentiles. */
    longPoll: z.boolean().default(false),
    /** An endpoint the target may not have yet (e.g. /metrics): a 404 drops it from the mix with a note. */
    optional: z.boolean().default(false),
  })
  .strict();

const thresholdSchema = z
  .object({
    metric: z.string().min(1),
    request: z.string().optional(),
    stage: z.string().optional(),
    max: z.number().optional(),
    min: z.number().optional(),
    description: z.string().optional(),
  })
  .strict()
  .refine((t) => t.max !== undefined || t.min !== undefined, 'a threshold needs max or min');

const llmSimSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[a-z0-9-]+$/),
    description: z.string(),
    /** "open" think-time users (the default) or "closed" loop: no pause, fixed connection counts. */
    model: z.enum(['users', 'closed-loop']).default('users'),
    stages: z.array(stageSchema).min(1),
    thinkTime: z
      .object({ success: thinkValue, other: thinkValue })
      .catchall(thinkValue)
      .superRefine((rules, ctx) => {
        for (const key of Object.keys(rules))
          if (key !== 'success' && key !== 'other' && !/^[1-5]\d\d$/.test(key))
            ctx.addIssue({
              code: 'custom',
              message: `thinkTime key "${key}" is not success, other or an HTTP status`,
            });
      }),
    requests: z.array(requestSchema).min(1),
    thresholds: z.array(thresholdSchema).default([]),
    followTasks: z.boolean().default(true),
    drainTimeout: duration.default('60s'),
    requestTimeout: duration.default('30s'),
    gracefulStop: duration.default('10s'),
    /** Keys the local stack issues (load-test:local) and which tier they belong to. */
    auth: z
      .object({ tier: z.string().default('loadtest'), keys: z.number().int().min(1).max(1000).default(1) })
      .strict()
      .default({ tier: 'loadtest', keys: 1 }),
    /**
     * Settings for the stack load-test:local starts: env for every process, llm-sim knobs, and
     * the worker's provider: "llm-sim" (started when built) or "builtin" (no downstream at all,
     * for scenarios that measure the platform rather than a simulated model). --llm-sim wins.
     */
    stack: z
      .object({
        env: z.record(z.string(), z.string()).default({}),
        llmSim: llmSimSchema.default({}),
        provider: z.enum(['llm-sim', 'builtin']).default('llm-sim'),
      })
      .strict()
      .default({ env: {}, llmSim: {}, provider: 'llm-sim' }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    for (const [i, r] of s.requests.entries()) {
      if (names.has(r.name))
        ctx.addIssue({
          code: 'custom',
          path: ['requests', i, 'name'],
          message: `duplicate request name ${r.name}`,
        });
      names.add(r.name);
      const text = [r.path, JSON.stringify(r.headers ?? {}), JSON.stringify(r.body ?? null)].join(' ');
      for (const v of templateVars(text))
        if (!(TEMPLATE_VARS as readonly string[]).includes(v))
          ctx.addIssue({
            code: 'custom',
            path: ['requests', i],
            message: `unknown template variable {{${v}}}; known: ${TEMPLATE_VARS.join(', ')}`,
          });
    }
    for (const [i, t] of s.thresholds.entries()) {
      if (!isKnownMetric(t.metric))
        ctx.addIssue({
          code: 'custom',
          path: ['thresholds', i, 'metric'],
          message: `unknown metric ${t.metric}; known: ${METRIC_NAMES.join(', ')}`,
        });
      if (t.request && !names.has(t.request))
        ctx.addIssue({
          code: 'custom',
          path: ['thresholds', i, 'request'],
          message: `no request named ${t.request}`,
        });
      if (t.stage && !s.stages.some((st) => st.name === t.stage))
        ctx.addIssue({
          code: 'custom',
          path: ['thresholds', i, 'stage'],
          message: `no stage named ${t.stage}`,
        });
    }
    const usesTaskId = s.requests.some((r) =>
      [r.path, JSON.stringify(r.headers ?? {}), JSON.stringify(r.body ?? null)]
        .join(' ')
        .includes('{{taskId}}'),
    );
    if (usesTaskId && !s.requests.some((r) => r.createsTask && r.weight > 0))
      ctx.addIssue({
        code: 'custom',
        path: ['requests'],
        message: 'a request uses {{taskId}} but no request with weight > 0 creates tasks',
      });
    if (s.requests.every((r) => r.weight === 0))
      ctx.addIssue({ code: 'custom', path: ['requests'], message: 'every weight is 0' });
  });

export type ScenarioFile = z.infer<typeof scenarioSchema>;
export type RequestSpec = ScenarioFile['requests'][number];
export type ThresholdSpec = ScenarioFile['thresholds'][number];

/** A scenario ready to run: durations in ms, stage windows laid out, variables applied. */
export interface Scenario {
  file: ScenarioFile;
  name: string;
  description: string;
  closedLoop: boolean;
  stages: StageWindow[];
  thinkTime: ThinkTimeRules;
  requests: RequestSpec[];
  thresholds: ThresholdSpec[];
  followTasks: boolean;
  drainTimeoutMs: number;
  requestTimeoutMs: number;
  gracefulStopMs: number;
}

export function scenarioPath(name: string): string {
  return path.join(SCENARIOS_DIR, `${name}.json`);
}

export function listScenarios(): string[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Validates raw JSON; the error lists every problem with its path. */
export function parseScenarioFile(raw: unknown, source = 'scenario'): ScenarioFile {
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is not a valid scenario:\n${problems.join('\n')}`);
  }
  return result.data;
}

/**
 * Turns a scenario file into a runnable scenario. `vars` (from --var NAME=value, then the environment)
 * override the duration of stages that declare a durationVar.
 */
export function resolveScenario(file: ScenarioFile, vars: Record<string, string | undefined> = {}): Scenario {
  const stages = stageWindows(
    file.stages.map((s, i) => {
      const override = s.durationVar ? vars[s.durationVar] : undefined;
      const durationMs = parseDuration(
        override ?? s.duration,
        `stages.${i}.duration${override ? ` (${s.durationVar})` : ''}`,
      );
      return { name: s.name ?? '', durationMs, target: s.target, ramp: s.ramp };
    }),
  ).map((w) => ({ ...w, name: w.name || `${w.index + 1}: ${describeStage(w, formatDuration)}` }));
  return {
    file,
    name: file.name,
    description: file.description,
    closedLoop: file.model === 'closed-loop',
    stages,
    thinkTime: file.thinkTime as ThinkTimeRules,
    requests: file.requests,
    thresholds: file.thresholds,
    followTasks: file.followTasks,
    drainTimeoutMs: parseDuration(file.drainTimeout, 'drainTimeout'),
    requestTimeoutMs: parseDuration(file.requestTimeout, 'requestTimeout'),
    gracefulStopMs: parseDuration(file.gracefulStop, 'gracefulStop'),
  };
}

/** Loads load-tests/scenarios/<name>.json (or a path to a JSON file). */
export function loadScenario(nameOrPath: string, vars: Record<string, string | undefined> = {}): Scenario {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : scenarioPath(nameOrPath);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const known = listScenarios().join(', ');
    throw new Error(
      `cannot read scenario ${nameOrPath} (${(err as Error).message}); known scenarios: ${known}`,
    );
  }
  return resolveScenario(parseScenarioFile(raw, path.relative(process.cwd(), file)), vars);
}
