import { envSchema, type AppEnv } from '@app/platform';
import {
  composeAppServices,
  composeEnv,
  containerEnvNames,
  loadCompose,
  OVERLAYS,
  renderOverlay,
  repoFileExists,
  targetOfImage,
  workloads,
} from './manifests';

// ---------------------------------------------------------------------------------------------------
// Facts from the env schema (libs/platform/src/config/env.schema.ts)

export type EnvKey = keyof AppEnv;
export const SCHEMA_KEYS = Object.keys(envSchema.shape) as EnvKey[];
export const inSchema = (name: string): name is EnvKey => (SCHEMA_KEYS as string[]).includes(name);

/** The value the schema gives a variable left unset, or undefined when it has no default. */
export function schemaDefault(key: EnvKey): unknown {
  const parsed = envSchema.shape[key].safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const isLoopbackUrl = (value: unknown): boolean => {
  if (typeof value !== 'string') return false;
  try {
    return LOOPBACK.has(new URL(value).hostname);
  } catch {
    return false;
  }
};

/**
 * Variables a container cannot run without: those with no default, and those whose default points at
 * the loopback interface (in a container that is the container itself, never Postgres or Redis).
 */
export function requiredInContainer(): EnvKey[] {
  return SCHEMA_KEYS.filter((key) => {
    const unset = envSchema.shape[key].safeParse(undefined);
    // An optional variable (ORCHESTRATOR_INTERNAL_PORT) parses unset as undefined: not required.
    return !unset.success || isLoopbackUrl(unset.data);
  });
}

/**
 * The schema variables each app spends, one after the other, when it shuts down gracefully:
 * the worker first drains its running jobs (WORKER_SHUTDOWN_GRACE_MS, onModuleDestroy), then
 * Terminus keeps readiness at 503 for SHUTDOWN_GRACE_MS; the orchestrator only does the latter.
 */
const SHUTDOWN_PHASES: Record<string, readonly EnvKey[]> = {
  orchestrator: ['SHUTDOWN_GRACE_MS'],
  'agent-worker': ['WORKER_SHUTDOWN_GRACE_MS', 'SHUTDOWN_GRACE_MS'],
  'llm-sim': [],
  migrate: [],
};

/**
 * The variable of the port each app serves /metrics on. The orchestrator's internal port is the
 * only place it serves them in production (the API port answers 404 there); the worker's health
 * port is internal by nature.
 */
export const METRICS_PORT_VAR: Readonly<Record<string, EnvKey>> = {
  orchestrator: 'ORCHESTRATOR_INTERNAL_PORT',
  'agent-worker': 'WORKER_HEALTH_PORT',
};

/** How long `app` may take to shut down gracefully, from its env (phases above). */
export function shutdownBudgetMs(app: string, env: AppEnv): number {
  const phases = SHUTDOWN_PHASES[app];
  if (!phases) throw new Error(`no shutdown phases known for app "${app}": add it to SHUTDOWN_PHASES`);
  return phases.reduce((sum, key) => sum + Number(env[key]), 0);
}

// ---------------------------------------------------------------------------------------------------
// Contract items missing on this branch that a static look at the files can find

/** Variable names set for our containers (compose services built here, k8s pods running our images). */
export function envNamesSetByDeployment(): { where: string; name: string }[] {
  const found: { where: string; name: string }[] = [];
  for (const { name, service } of composeAppServices(loadCompose())) {
    for (const key of Object.keys(composeEnv(service))) found.push({ where: `compose ${name}`, name: key });
  }
  for (const overlay of OVERLAYS) {
    const objects = renderOverlay(overlay);
    for (const { object, pod } of workloads(objects)) {
      for (const container of pod.containers.filter((c) => targetOfImage(c.image))) {
        for (const key of containerEnvNames(container, objects)) {
          found.push({ where: `k8s ${overlay} ${object.kind}/${object.metadata.name}`, name: key });
        }
      }
    }
  }
  return found;
}

/** The k6 script the compose `loadtest` profile runs by default (from the k6 service's command). */
export function composeK6Script(): string {
  const command = loadCompose().services.k6.command as string[];
  const script = command.find((arg) => arg.startsWith('/load-tests/'));
  if (!script) throw new Error('the k6 service runs no script under /load-tests');
  return `load-tests/${script.slice('/load-tests/'.length)}`;
}

export function staticallyMissingContractItems(): string[] {
  const missing = new Set<string>();
  for (const { name } of envNamesSetByDeployment()) if (!inSchema(name)) missing.add(`env ${name}`);
  const script = composeK6Script();
  if (!repoFileExists(script)) missing.add(`k6 script ${script}`);
  return [...missing];
}
