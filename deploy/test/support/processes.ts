import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  composeAppServices,
  composeEnv,
  loadCompose,
  parseDockerfile,
  REPO_ROOT,
  repoPath,
  type DockerStage,
} from './manifests';

/**
 * Runs a Dockerfile target's CMD on this machine the way the container would: the same argv, from the
 * image's WORKDIR (the repository root holds the same relative `dist/` paths), with the image's ENV
 * and the environment docker-compose.yml gives that service. Only what must differ outside a container
 * is overridden: where Postgres and Redis are (the test databases), the queue prefix (isolation from
 * other suites) and the ports (free ones, since other processes share this machine).
 */

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ContainerProcess {
  readonly exited: Promise<Exit>;
  private output = '';
  private exit?: Exit;

  constructor(
    readonly target: string,
    readonly argv: string[],
    readonly env: Record<string, string>,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The tail of what the process printed, for failure messages. */
  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  /** Sends SIGTERM and waits for the exit, with how long it took. */
  async terminate(timeoutMs: number): Promise<Exit & { ms: number }> {
    const started = Date.now();
    this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), timeoutMs).unref(),
    );
    const result = await Promise.race([this.exited, timer]);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`${this.target} still running ${timeoutMs} ms after SIGTERM\n${this.tail()}`);
    }
    return { ...result, ms: Date.now() - started };
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

export const dockerStages: Map<string, DockerStage> = parseDockerfile();

/** Targets with a CMD (the images), and the entry file each CMD runs. */
export function imageTargets(): { target: string; stage: DockerStage; entry: string }[] {
  return [...dockerStages.values()]
    .filter((stage) => stage.cmd.length > 0)
    .map((stage) => ({ target: stage.name, stage, entry: stage.cmd[1] }));
}

export const entryBuilt = (entry: string): boolean => existsSync(repoPath(entry));

/** The image ENV overlaid with the compose service's environment (interpolated with its defaults). */
export function containerEnvironment(target: string): Record<string, string> {
  const service = composeAppServices(loadCompose()).find((s) => s.target === target);
  return { ...dockerStages.get(target)!.env, ...(service ? composeEnv(service.service) : {}) };
}

export function startContainerCmd(target: string, env: Record<string, string>): ContainerProcess {
  const stage = dockerStages.get(target)!;
  // ENTRYPOINT is tini, which only forwards signals to its child: what runs the app is the CMD.
  const [command, ...args] = stage.cmd;
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ContainerProcess(target, stage.cmd, env, child);
}

/** GET with a short timeout; undefined while nothing listens. */
export async function httpGet(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
