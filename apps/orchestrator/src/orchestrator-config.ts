import { ConfigError, type AppEnv } from '@app/platform';

/**
 * Checks that span several variables or only matter to the orchestrator (the worker shares the
 * env schema but serves no API, so it must not need API keys). Run before the app is built.
 */
export function orchestratorConfigProblems(env: AppEnv): string[] {
  const problems: string[] = [];
  if (env.NODE_ENV === 'production' && env.API_KEYS.length === 0) {
    problems.push(
      'API_KEYS: must list at least one key when NODE_ENV=production (auth cannot be off in production; `npm run api-key` mints one)',
    );
  }
  // The secret signs every webhook; without it a callback would be accepted and never delivered.
  if (env.NODE_ENV === 'production' && env.WEBHOOKS_ENABLED && env.WEBHOOK_SECRET.length === 0) {
    problems.push(
      'WEBHOOK_SECRET: must be set when NODE_ENV=production and WEBHOOKS_ENABLED=true (tasks may ask for a callback_url, and an unsigned webhook is never sent); set it, or WEBHOOKS_ENABLED=false to refuse callbacks',
    );
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  env.API_KEYS.forEach((key, i) => {
    if (!(key.tier in env.RATE_LIMIT_TIERS)) {
      problems.push(
        `API_KEYS.${i}.tier: "${key.tier}" is not a tier of RATE_LIMIT_TIERS (${Object.keys(env.RATE_LIMIT_TIERS).join(', ')})`,
      );
    }
    if (names.has(key.name)) problems.push(`API_KEYS.${i}.name: "${key.name}" is used by another key`);
    if (hashes.has(key.sha256)) problems.push(`API_KEYS.${i}.sha256: the same key is listed twice`);
    names.add(key.name);
    hashes.add(key.sha256);
  });
  return problems;
}

export function assertOrchestratorConfig(env: AppEnv): void {
  const problems = orchestratorConfigProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
}
