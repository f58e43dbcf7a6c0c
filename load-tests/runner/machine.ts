import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';

/**
 * What a figure was measured on and with which code: written into every load report and bench result,
 * so a number in docs/PERFORMANCE.md always carries its machine and its command.
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

const ROOT = path.resolve(__dirname, '..', '..');

export async function machineInfo(databaseUrl?: string, redisUrl?: string): Promise<MachineInfo> {
  const cpus = os.cpus();
  const info: MachineInfo = {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  if (databaseUrl) info.postgres = await postgresVersion(databaseUrl).catch(() => undefined);
  if (redisUrl) info.redis = await redisVersion(redisUrl).catch(() => undefined);
  return info;
}

async function postgresVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  } finally {
    await client.end();
  }
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

export function codeInfo(): CodeInfo {
  const git = (...args: string[]): string | undefined => {
    try {
      return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
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

const SECRET_NAME = /(KEY|SECRET|PASSWORD|TOKEN)/i;

/** Arguments with credentials masked: URL passwords, --api-key values, NAME=value where NAME looks secret. */
export function redactArgs(args: readonly string[]): string[] {
  return args.map((a, i) => {
    if (i > 0 && /^--api-key$/.test(args[i - 1])) return '***';
    if (a.startsWith('--api-key=')) return '--api-key=***';
    const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(a);
    if (kv && SECRET_NAME.test(kv[1])) return `${kv[1]}=***`;
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
