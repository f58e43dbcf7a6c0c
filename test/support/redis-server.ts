import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './ports';

export interface PrivateRedis {
  port: number;
  url: string;
  /**
   * Stops the server and starts it again on the same port after `downMs`: with the same data
   * (SHUTDOWN flushes the append-only file), or empty when it runs without persistence.
   */
  restart(downMs: number): Promise<void>;
  /** Stops the server; `start` brings it back (the same as restart, in two steps). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and deletes its directory. */
  close(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** A fixed port (outage tests that name theirs); a free one otherwise. */
  port?: number;
  /** False: no append-only file, so a restart comes back empty, like a Redis without persistence. */
  persist?: boolean;
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

/** Throws when something already listens on the port (a leftover server would answer our pings). */
async function assertPortFree(port: number): Promise<void> {
  const taken = await new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (taken) throw new Error(`port ${port} is already in use; stop what listens there`);
}

/**
 * A private redis-server for tests that stop and restart Redis (never the shared one). By default
 * it keeps an append-only file in a temporary directory, so a restart behaves like a managed
 * Redis failing over: same data, connections cut.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  const persist = options.persist ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'ap-redis-'));
  let child: ChildProcess | null = null;

  const launch = async () => {
    // Never a second server on the port: it would fail to bind while the ping reached the first.
    if (child && child.exitCode === null) return;
    await assertPortFree(port);
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
        ...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    // A server that exits at once (the port is taken) must fail the start, not let the ping
    // reach whatever else listens there.
    const started = child;
    const earlyExit = new Promise<never>((_, reject) =>
      started.once('exit', (code) => reject(new Error(`redis-server on ${port} exited with ${code}`))),
    );
    earlyExit.catch(() => undefined); // a later, normal exit is nobody's error
    await Promise.race([waitForPing(port), earlyExit]);
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
    stop: halt,
    start: launch,
    close: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
