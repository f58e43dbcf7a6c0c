import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDuration, stageWindows, type ThinkRules } from '../lib/scenario';
import { scenarioSchema, type ScenarioFile } from './schema';
import type { Scenario } from './types';

export const SCENARIOS_DIR = path.resolve(__dirname, '..', 'scenarios');

export const scenarioPath = (name: string): string => path.join(SCENARIOS_DIR, `${name}.json`);

export function listScenarios(): string[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Validates raw JSON; the error lists every problem with its path. */
export function parseScenarioFile(raw: unknown, source = 'scenario'): ScenarioFile {
  const result = scenarioSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`${source} is not a valid scenario:\n${problems.join('\n')}`);
}

/** A runnable scenario; `vars` (--var, then the environment) override durationVar stages and iterationsVar. */
export function resolveScenario(file: ScenarioFile, vars: Record<string, string | undefined> = {}): Scenario {
  const iterationsOverride = file.iterationsVar ? vars[file.iterationsVar] : undefined;
  const iterations = iterationsOverride ? Number(iterationsOverride) : file.iterations;
  if (iterations !== undefined && !(Number.isInteger(iterations) && iterations > 0))
    throw new Error(`${file.iterationsVar}: "${iterationsOverride}" is not a positive whole number`);
  if (file.model === 'paced' && !(typeof file.thinkTime.success === 'number' && file.thinkTime.success > 0))
    throw new Error(
      `${file.name}: a paced scenario needs thinkTime.success as a number of seconds above 0 (the pace)`,
    );
  return {
    file,
    name: file.name,
    description: file.description,
    closedLoop: file.model === 'closed-loop',
    paced: file.model === 'paced',
    stages: stageWindows(file.stages, vars),
    iterations,
    thinkTime: file.thinkTime as ThinkRules,
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
    throw new Error(
      `cannot read scenario ${nameOrPath} (${(err as Error).message}); known: ${listScenarios().join(', ')}`,
    );
  }
  return resolveScenario(parseScenarioFile(raw, path.relative(process.cwd(), file)), vars);
}
