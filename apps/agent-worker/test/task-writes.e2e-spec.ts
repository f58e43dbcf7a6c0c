import { createSqlPool } from '@app/db';
import { AppConfig, newId } from '@app/platform';
import type { Pool } from 'pg';
import { createPersona, insertOrphanTask, testPool } from '../../../test/support/db';
import { testConfig } from '../../../test/support/test-env';
import { TaskWriteBatcher, type CompletedTask } from '../src/agent/task-write.batcher';

/** TaskWriteBatcher against the real schema: what one statement per turn must keep from one statement per job. */
describe('TaskWriteBatcher (group-committed claim and completion)', () => {
  let sqlPool: Pool;
  let writes: TaskWriteBatcher;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    sqlPool = createSqlPool(testConfig(), 'test-task-writes', 8);
    writes = new TaskWriteBatcher(sqlPool, new AppConfig(testConfig()));
    pool = testPool();
    persona = await createPersona(pool, 'writes');
  });
  afterAll(async () => {
    await sqlPool.end();
    await pool.end();
  });

  async function insertTask(
    fields: { status?: string; attempts?: number; callbackUrl?: string | null; personaId?: string } = {},
  ): Promise<string> {
    const id = newId();
    await pool.query(
      `INSERT INTO tasks (id, persona_id, task_type, input, status, attempts, callback_url, started_at)
       VALUES ($1, $2, 'generate_post', $3, $4::varchar, $5, $6, CASE WHEN $4::varchar = 'queued' THEN NULL ELSE now() - interval '1 hour' END)`,
      [
        id,
        fields.personaId ?? persona,
        { topic: `topic of ${id}` },
        fields.status ?? 'queued',
        fields.attempts ?? 0,
        fields.callbackUrl ?? null,
      ],
    );
    return id;
  }

  /** Each task's row, with xmin: rows written by one statement (one implicit transaction) share it. */
  async function tasks(ids: string[]) {
    const { rows } = await pool.query(
      `SELECT id, status, attempts, started_at, finished_at, last_error, xmin::text AS xmin
       FROM tasks WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id as string, r]));
  }

  async function posts(ids: string[]) {
    const { rows } = await pool.query(
      `SELECT id, task_id, persona_id, hook, body, tokens_used, model, latency_ms, xmin::text AS xmin
       FROM posts WHERE task_id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.task_id as string, r]));
  }

  const post = (taskId: string, extra: Partial<CompletedTask> = {}): CompletedTask => ({
    taskId,
    postId: newId(),
    personaId: persona,
    hook: `hook for ${taskId}`,
    body: `body for ${taskId}`,
    tokensUsed: 42,
    model: 'test-model',
    latencyMs: 7,
    ...extra,
  });

  it('concurrent claims share one statement; each caller gets its own task and persona, a task that is not runnable gets null', async () => {
    const queued = [await insertTask(), await insertTask(), await insertTask()];
    const stalled = await insertTask({ status: 'running', attempts: 2 });
    const succeeded = await insertTask({ status: 'succeeded', attempts: 1 });
    const cancelled = await insertTask({ status: 'cancelled' });
    const unknown = newId();
    const before = await tasks([stalled]);

    const ids = [...queued, stalled, succeeded, cancelled, unknown];
    const claims = await Promise.all(ids.map((id) => writes.claim(id)));

    const runnable = [...queued, stalled];
    expect(claims.slice(0, 4)).toEqual(
      runnable.map((id) => ({
        id,
        task_type: 'generate_post',
        input: { topic: `topic of ${id}` },
        persona_id: persona,
        persona_name: `Test ${persona}`,
        system_prompt: 'You are a test persona.',
        model: 'test-model',
        temperature: 0.5,
        max_tokens: 200,
      })),
    );
    expect(claims.slice(4)).toEqual([null, null, null]);

    const after = await tasks(ids);
    expect(runnable.map((id) => [after.get(id).status, after.get(id).attempts])).toEqual([
      ['running', 1],
      ['running', 1],
      ['running', 1],
      ['running', 3],
    ]);
    expect(new Set(runnable.map((id) => after.get(id).xmin)).size).toBe(1);
    // A re-claimed task keeps its first start time.
    expect(after.get(stalled).started_at).toEqual(before.get(stalled).started_at);
    expect(after.get(queued[0]).started_at).not.toBeNull();
    expect([after.get(succeeded).status, after.get(succeeded).attempts]).toEqual(['succeeded', 1]);
    expect([after.get(cancelled).status, after.get(cancelled).attempts]).toEqual(['cancelled', 0]);
    expect(after.has(unknown)).toBe(false);
  });

  it('with WORKER_WRITE_WINDOW_MS, claims and completions spread over the window still share one statement each', async () => {
    const windowed = new TaskWriteBatcher(
      sqlPool,
      new AppConfig(testConfig({ WORKER_WRITE_WINDOW_MS: '60' })),
    );
    const ids = [await insertTask(), await insertTask(), await insertTask()];
    const spread = async <T>(call: (id: string) => Promise<T>): Promise<T[]> => {
      const calls: Promise<T>[] = [];
      for (const id of ids) {
        calls.push(call(id));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return Promise.all(calls);
    };

    const claimed = await spread((id) => windowed.claim(id));
    expect(claimed.map((row) => row?.id)).toEqual(ids);
    const afterClaim = await tasks(ids);
    expect(new Set(ids.map((id) => afterClaim.get(id).xmin)).size).toBe(1);

    const finished = await spread((id) => windowed.complete(post(id)));
    expect(finished.every((row) => row !== null)).toBe(true);
    const done = await tasks(ids);
    expect(ids.map((id) => done.get(id).status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(new Set(ids.map((id) => done.get(id).xmin)).size).toBe(1);
  });

  it('a claim reports a missing persona as persona_name null', async () => {
    const id = newId();
    await insertOrphanTask(pool, id, 'ghost-writes', {});
    try {
      const other = await insertTask();
      const [ghost, fine] = await Promise.all([writes.claim(id), writes.claim(other)]);
      expect(ghost).toMatchObject({
        id,
        persona_id: 'ghost-writes',
        persona_name: null,
        system_prompt: null,
      });
      expect(fine).toMatchObject({ id: other, persona_name: `Test ${persona}` });
    } finally {
      await pool.query('DELETE FROM tasks WHERE id = $1', [id]);
    }
  });

  it('the same task claimed twice in one turn is claimed twice, in two statements, like two separate claims', async () => {
    const id = await insertTask();
    const other = await insertTask();
    const claims = await Promise.all([writes.claim(id), writes.claim(other), writes.claim(id)]);
    expect(claims.map((c) => c?.id)).toEqual([id, other, id]);
    const after = await tasks([id, other]);
    expect(after.get(id).attempts).toBe(2);
    expect(after.get(other).attempts).toBe(1);
  });

  it('concurrent completions share one statement; each caller gets its own callback_url; a task not running gets null and keeps its status', async () => {
    const running = [
      await insertTask({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/a' }),
      await insertTask({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/b' }),
      await insertTask({ status: 'running', attempts: 1 }),
    ];
    const succeeded = await insertTask({
      status: 'succeeded',
      attempts: 1,
      callbackUrl: 'https://hooks.example/c',
    });
    const cancelled = await insertTask({ status: 'cancelled', callbackUrl: 'https://hooks.example/d' });
    // Text that array literals must quote and escape, stored exactly as given.
    const awkward = 'She said "hi", {braces}, back\\slash\nNULL, ünïcødé 🚀';
    const inputs = [
      post(running[0], { hook: awkward, body: `${awkward} body`, tokensUsed: 1234, latencyMs: 56 }),
      post(running[1]),
      post(running[2]),
      post(succeeded),
      post(cancelled),
    ];

    const results = await Promise.all(inputs.map((p) => writes.complete(p)));

    expect(results).toEqual([
      { callback_url: 'https://hooks.example/a' },
      { callback_url: 'https://hooks.example/b' },
      { callback_url: null },
      null,
      null,
    ]);
    const after = await tasks([...running, succeeded, cancelled]);
    for (const id of running) {
      expect(after.get(id)).toMatchObject({ status: 'succeeded', last_error: null });
      expect(after.get(id).finished_at).not.toBeNull();
    }
    expect(new Set(running.map((id) => after.get(id).xmin)).size).toBe(1);
    expect(after.get(succeeded).status).toBe('succeeded');
    expect(after.get(cancelled).status).toBe('cancelled');

    const written = await posts(running);
    expect(written.get(running[0])).toMatchObject({
      id: inputs[0].postId,
      persona_id: persona,
      hook: awkward,
      body: `${awkward} body`,
      tokens_used: 1234,
      model: 'test-model',
      latency_ms: 56,
      xmin: after.get(running[0]).xmin,
    });
    expect(written.get(running[1])).toMatchObject({ id: inputs[1].postId, hook: `hook for ${running[1]}` });
    expect(written.get(running[2])).toMatchObject({ id: inputs[2].postId, xmin: after.get(running[0]).xmin });
  });

  it('the same task completed twice in one turn: exactly one caller gets the row, and its post is the one kept', async () => {
    const id = await insertTask({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/dup' });
    const other = await insertTask({ status: 'running', attempts: 1 });
    const first = post(id, { hook: 'first run' });
    const second = post(id, { hook: 'second run' });

    const results = await Promise.all([
      writes.complete(first),
      writes.complete(post(other)),
      writes.complete(second),
    ]);

    expect(results[1]).toEqual({ callback_url: null });
    const winners = [results[0], results[2]].filter((r) => r !== null);
    expect(winners).toEqual([{ callback_url: 'https://hooks.example/dup' }]);
    const kept = (await posts([id])).get(id);
    expect(kept.hook).toBe(results[0] ? 'first run' : 'second run');
    expect(await pool.query('SELECT count(*)::int AS n FROM posts WHERE task_id = $1', [id])).toMatchObject({
      rows: [{ n: 1 }],
    });
    expect((await tasks([id])).get(id)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('a row the database rejects fails only its own caller; the rest of its turn is written', async () => {
    const running = [
      await insertTask({ status: 'running', attempts: 1 }),
      await insertTask({ status: 'running', attempts: 1 }),
    ];
    const overflow = await insertTask({ status: 'running', attempts: 1 });
    const missing = newId();

    const results = await Promise.allSettled([
      writes.complete(post(running[0])),
      writes.complete(post(overflow, { tokensUsed: 2 ** 31 })),
      writes.complete(post(missing)),
      writes.complete(post(running[1])),
    ]);

    expect(results[0]).toEqual({ status: 'fulfilled', value: { callback_url: null } });
    expect(results[3]).toEqual({ status: 'fulfilled', value: { callback_url: null } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: '22003' } });
    expect(results[2]).toMatchObject({
      status: 'rejected',
      reason: { code: '23503', constraint: 'posts_task_id_fkey' },
    });
    const after = await tasks([...running, overflow]);
    expect(running.map((id) => after.get(id).status)).toEqual(['succeeded', 'succeeded']);
    expect(after.get(overflow).status).toBe('running');
    expect([...(await posts([...running, overflow, missing])).keys()].sort()).toEqual([...running].sort());

    const [bad, good] = await Promise.allSettled([
      writes.claim('not-a-uuid'),
      writes.claim(await insertTask()),
    ]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: '22P02' } });
    expect(good).toMatchObject({ status: 'fulfilled', value: { persona_name: `Test ${persona}` } });
  });
});
