import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
/**
 * What every result file (load report, bench) carries, so a published number always comes with its
 * machine, its code and its command; and the Markdown tables and sections they are written with.
 */
export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  postgres?: string;
  redis?: string;
  loadAverage: number[];
}

export interface CodeInfo {
  commit?: string;
  branch?: string;
  dirty?: boolean;
}

export async function machineInfo(databaseUrl?: string, redisUrl?: string): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    postgres: databaseUrl ? await postgresVersion(databaseUrl).catch(() => undefined) : undefined,
    redis: redisUrl ? await redisVersion(redisUrl).catch(() => undefined) : undefined,
  };
}

async function postgresVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  } finally {
    await client.end();
  }
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

export function codeInfo(): CodeInfo {
  const git = (...args: string[]): string | undefined => {
    try {
      const cwd = path.resolve(__dirname, '..');
      return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return undefined;
    }
  };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    commit: git('rev-parse', 'HEAD'),
    branch: git('rev-parse', '--abbrev-ref', 'HEAD'),
    dirty: status === undefined ? undefined : status.length > 0,
  };
}

export function machineLine(m: MachineInfo): string {
  return [
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB RAM`,
    `Node ${m.node}`,
    m.postgres && `Postgres ${m.postgres}`,
    m.redis && `Redis ${m.redis}`,
    `load avg at start ${m.loadAverage.join(' ')}`,
  ]
    .filter(Boolean)
    .join('; ');
}

/** Arguments with credentials masked: URL passwords, --api-key values, NAME=value where NAME looks secret. */
export function redactArgs(args: readonly string[]): string[] {
  return args.map((a, i) => {
    if (i > 0 && args[i - 1] === '--api-key') return '***';
    if (a.startsWith('--api-key=')) return '--api-key=***';
    const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(a);
    if (kv && /(KEY|SECRET|PASSWORD|TOKEN)/i.test(kv[1])) return `${kv[1]}=***`;
    return redactUrl(a);
  });
}

/** The command as a person would type it again: `npm run <script> -- <args>` (credentials masked). */
export function commandLine(script: string, args: readonly string[]): string {
  const quoted = redactArgs(args).map((a) =>
    /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`,
  );
  return `npm run ${script}${quoted.length ? ` -- ${quoted.join(' ')}` : ''}`;
}

/** Credentials never go into a report: postgres://user:secret@host/db -> postgres://user:***@host/db. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A Markdown table; the first column is left-aligned, the others right-aligned unless `align` says. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: string,
): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i ? 'r' : 'l')) === 'r' ? '---:' : '---'));
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [header, sep, ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}

/** A part of a report: a heading ("## title", or the title itself when it starts with #), a table, text. */
export interface Section {
  title?: string;
  header?: string[];
  rows?: string[][];
  align?: string;
  text?: string[];
}

/** Sections as Markdown lines, each part followed by a blank line. */
export const markdown = (sections: readonly Section[]): string[] =>
  sections.flatMap((s) => [
    ...(s.title ? [s.title.startsWith('#') ? s.title : `## ${s.title}`, ''] : []),
    ...(s.header && s.rows ? [table(s.header, s.rows, s.align), ''] : []),
    ...(s.text?.length ? [...s.text, ''] : []),
  ]);

export const pct = (rate: number): string => `${(rate * 100).toFixed(2)}%`;
export const ms = (v: number): string => `${v.toFixed(2)} ms`;
