import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../../../test/support/ports';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Stops the server (SHUTDOWN: the append-only file is flushed) and starts it again on the same port and data. */
  restart(downMs: number): Promise<void>;
  /** Stops the server until `up` (connections cut, data kept). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPing(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`private redis on ${port} did not start: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

/**
 * A private redis-server for tests that stop and restart Redis (never the shared one). It keeps
 * an append-only file in a temporary directory, so a restart behaves like a managed Redis
 * failing over: same data, connections cut.
 */
export async function startPrivateRedis(fixedPort?: number): Promise<PrivateRedis> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ap-redis-'));
  let child: ChildProcess | null = null;

  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
      ],
      { stdio: 'ignore' },
    );
    await waitForPing(port);
  };
  const halt = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM, flushing the AOF
    await exited;
    child = null;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    restart: async (downMs) => {
      await halt();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    down: halt,
    up: launch,
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
