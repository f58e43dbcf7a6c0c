import { envSchema } from './env.schema';

export interface EnvVarDoc {
  name: string;
  default: string;
  description: string;
}

function renderDefault(value: unknown): string {
  if (value === undefined) return '';
  // A list default is empty (API_KEYS, CORS_ORIGINS): written as unset. An object (RATE_LIMIT_TIERS)
  // is written as the JSON it parses from.
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Every variable of the schema with its default (as the app would see it unset) and its description. */
export function describeEnv(): EnvVarDoc[] {
  const defaults = envSchema.parse({}) as Record<string, unknown>;
  return Object.entries(envSchema.shape).map(([name, schema]) => ({
    name,
    default: renderDefault(defaults[name]),
    description: schema.description ?? '',
  }));
}

/** The body of `.env.example`: each variable commented with its meaning, set to its default. */
export function renderEnvExample(): string {
  const lines = [
    '# Every variable agent-platform reads, with its default. Generated from',
    '# libs/platform/src/config/env.schema.ts by `npm run env:docs`; do not edit by hand.',
    '',
  ];
  for (const v of describeEnv()) {
    lines.push(`# ${v.description}`, `${v.name}=${v.default}`, '');
  }
  return lines.join('\n');
}

/** The configuration table of docs/configuration.md. */
export function renderEnvTable(): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const rows = describeEnv().map(
    (v) => `| \`${v.name}\` | \`${escape(v.default)}\` | ${escape(v.description)} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
