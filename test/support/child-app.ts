import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, freePort, startProcess, type Proc } from '../../tools/stack';
import { testEnvVars } from './test-env';

export interface ChildApp {
  url: string;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Proc['exited'];
  kill(): void;
}

/**
 * The orchestrator's real entry point (apps/orchestrator/src/main.ts, run through ts-node) in a
 * child process: for what only a whole process shows (signals, exit, its log output).
 */
export async function spawnOrchestrator(overrides: Record<string, string> = {}): Promise<ChildApp> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const main = join(ROOT, 'apps/orchestrator/src/main.ts');
  const proc = await startProcess({
    name: 'orchestrator',
    args: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', main],
    env: { PATH: process.env.PATH, ...testEnvVars(), ORCHESTRATOR_PORT: String(port), ...overrides },
    output: 'capture',
    readyUrl: `${url}/health/live`,
    timeoutMs: 20000,
  });
  const kill = (): void => void (proc.alive && proc.child.kill('SIGKILL'));
  return { url, process: proc.child, output: proc.output, exited: proc.exited, kill };
}
