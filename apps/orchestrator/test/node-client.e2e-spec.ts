import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { spawnOrchestrator } from '../../../test/support/child-app';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { request } from '../../../test/support/http';
import { testEnvVars } from '../../../test/support/test-env';

const ROOT = join(__dirname, '..', '..', '..');

/** Runs an app's real entry point (main.ts through ts-node) and collects its output until it exits. */
function runMain(
  entry: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(ROOT, entry)],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...testEnvVars(), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, output });
    });
  });
}

describe('the HTTP edge, as a Node client meets it', () => {
  let api: RunningApp;
  let pool: Pool;
  let persona: string;
  beforeAll(async () => {
    api = await startOrchestrator();
    pool = testPool();
    persona = await createPersona(pool, 'node-client');
  });
  afterAll(async () => {
    await api.close();
    await pool.end();
  });

  const createTask = async (topic: string): Promise<string> => {
    const res = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic },
    });
    expect(res.status).toBe(202);
    return res.body.id;
  };

  // In a separate process, as clients meet it: in-process, the client's writes are queued before
  // the server reads the headers, and the early answer never races them.
  it("a 6 MB body gets a 413 that Node's own fetch reads (no EPIPE), and the API keeps serving", async () => {
    const child = await spawnOrchestrator();
    try {
      const before = await countRows(pool, 'tasks');
      const body = JSON.stringify({
        persona_id: persona,
        task_type: 'generate_post',
        topic: 'big',
        extras: { pad: 'x'.repeat(6 * 1024 * 1024) },
      });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${child.url}/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(res.status).toBe(413);
        expect(await res.json()).toMatchObject({
          statusCode: 413,
          error: 'Payload Too Large',
          message: expect.stringMatching(/too large/i),
        });
      }
      expect(await countRows(pool, 'tasks')).toBe(before);
      expect((await request(child.url, 'GET', '/v1/personas?limit=1')).status).toBe(200);
    } finally {
      child.kill();
      await child.exited;
    }
  });

  it('a body-less cancel or retry sent with Content-Type: application/json is accepted', async () => {
    const queued = await createTask('cancel me without a body');
    const cancel = await fetch(`${api.url}/v1/tasks/${queued}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { status: string }).status).toBe('cancelled');

    const failed = await createTask('retry me without a body');
    await pool.query(
      `UPDATE tasks SET status = 'failed', last_error = 'test', finished_at = now() WHERE id = $1`,
      [failed],
    );
    const retry = await fetch(`${api.url}/v1/tasks/${failed}/retry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { status: string }).status).toBe('queued');
  });

  it('a route that needs a body still refuses an empty one, saying so', async () => {
    const before = await countRows(pool, 'tasks');
    const res = await request(api.url, 'POST', '/v1/tasks', {
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/the body is empty/);
    expect(await countRows(pool, 'tasks')).toBe(before);
  });

  it.each([
    ['orchestrator', 'apps/orchestrator/src/main.ts'],
    ['agent-worker', 'apps/agent-worker/src/main.ts'],
  ])(
    '%s started against a database that does not exist prints one clear line and exits 1',
    async (_app, entry) => {
      const url = new URL(testEnvVars().DATABASE_URL);
      url.pathname = `/agent_platform_missing_${process.pid}`;
      const { code, output } = await runMain(entry, {
        DATABASE_URL: url.toString(),
        ORCHESTRATOR_PORT: '0',
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'info',
      });
      expect(code).toBe(1);
      const lines = output.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toEqual([
        expect.stringContaining(
          `Database "agent_platform_missing_${process.pid}" does not exist on ${url.host}`,
        ),
      ]);
      expect(lines[0]).toContain('node dist/libs/db/src/migrate.js');
    },
  );
});
