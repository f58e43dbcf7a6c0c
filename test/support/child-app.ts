import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './http';
import { freePort } from './ports';
import { testEnvVars } from './test-env';

const ROOT = join(__dirname, '..', '..');

export interface ChildApp {
  url: string;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) and how long after `since` it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(): void;
}

/**
 * The orchestrator's real entry point (apps/orchestrator/src/main.ts, run through ts-node) in a
 * child process: for what only a whole process shows (signals, exit, its log output).
 */
export async function spawnOrchestrator(overrides: Record<string, string> = {}): Promise<ChildApp> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(ROOT, 'apps/orchestrator/src/main.ts'),
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ...testEnvVars(),
        ORCHESTRATOR_PORT: String(port),
        ...overrides,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = `http://127.0.0.1:${port}`;
  let gone = false;
  void exited.then(() => (gone = true));
  await eventually(
    async () => {
      if (gone) throw new Error(`orchestrator exited during start:\n${out}`);
      try {
        const res = await fetch(`${url}/health/live`);
        return res.ok ? true : undefined;
      } catch {
        return undefined;
      }
    },
    20000,
    100,
  );
  return {
    url,
    process: child,
    output: () => out,
    exited,
    kill: () => {
      if (!gone) child.kill('SIGKILL');
    },
  };
}
