import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testEnvVars } from '../../../../test/support/test-env';
import { freePort } from '../../../../test/support/ports';

const ROOT = resolve(__dirname, '../../../..');

/** Builds dist/ when a source is newer than the last build (the crash tests run the real entry point). */
export function ensureBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.js'), '--if-needed'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  url: string;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ready(timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

let counter = 0;

/**
 * `node dist/apps/agent-worker/src/main.js` as a child process with the test environment plus
 * `overrides`; its JSON logs go to a file in the temp directory (named in failures).
 */
export async function spawnWorker(overrides: Record<string, string>): Promise<WorkerProcess> {
  const port = await freePort();
  const logFile = join(tmpdir(), `agent-worker-test-${process.pid}-${counter++}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [join(ROOT, 'dist/apps/agent-worker/src/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      ...testEnvVars(),
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '0',
      ...overrides,
      WORKER_HEALTH_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    logFile,
    exited,
    kill: (signal) => void child.kill(signal),
    ready: async (timeoutMs = 30000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`worker exited before it was ready; see ${logFile}`);
        }
        try {
          const res = await fetch(`${url}/health/ready`);
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`worker not ready within ${timeoutMs} ms; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
