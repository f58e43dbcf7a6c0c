import {
  cancelTask,
  createSqlPool,
  deferTask,
  failTask,
  findTaskByIdempotencyKey,
  acquireReconcilerLease,
  findTasksToReconcile,
  getTaskWithPost,
  listTasks,
  MAPPED_COLUMNS,
  releaseReconcilerLease,
  requeueLostTask,
  retryTask,
  TaskInsertBatcher,
  TaskWriteBatcher,
  saveReconcilerCursor,
  unclaimTask,
  type CompletedPost,
  type NewTask,
  type ReconcileCursor,
  type TaskStatus,
} from '@app/db';
import { newId } from '@app/platform';
import type { Pool } from 'pg';
import { createPersona, insertOrphanTask } from '../../../test/support/db';
import { eventually } from '../../../test/support/http';
import { testConfig } from '../../../test/support/test-env';

/**
 * Task persistence (libs/db/src/tasks) against the migrated schema: which statuses each
 * transition moves a task from and to, what it refuses and reports, what a replay does, how
 * attempts are counted, and what the group commits keep from one statement per call.
 */
describe('task persistence', () => {
  const APP = 'test-task-persistence';
  let pool: Pool;
  let persona: string;
  const personas: string[] = [];
  const TERMINAL: TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

  beforeAll(async () => {
    pool = createSqlPool(testConfig(), APP, 8);
    persona = await newPersona();
  });
  afterAll(async () => {
    // Leave no task behind for the suites that run after this one (the reconciler's sees every table row).
    await pool.query('DELETE FROM tasks WHERE persona_id = ANY($1)', [personas]);
    await pool.end();
  });

  async function newPersona(): Promise<string> {
    const id = await createPersona(pool, 'tasks');
    personas.push(id);
    return id;
  }

  interface Seed {
    status?: TaskStatus;
    attempts?: number;
    personaId?: string;
    lastError?: string | null;
    callbackUrl?: string | null;
    clientId?: string;
    idempotencyKey?: string | null;
    requestId?: string | null;
    /** How long ago the task was created and last updated. */
    ageMs?: number;
  }

  /** A task in any state, written directly: started an hour ago unless queued, finished a minute ago if terminal. */
  async function seed(fields: Seed = {}): Promise<string> {
    const id = newId();
    await pool.query(
      `INSERT INTO tasks (id, persona_id, task_type, input, status, attempts, last_error, callback_url,
                          client_id, tenant, idempotency_key, request_id, started_at, finished_at, created_at, updated_at)
       VALUES ($1, $2, 'generate_post', $3, $4::varchar, $5, $6, $7, $8, $8, $9, $10,
               CASE WHEN $4::varchar = 'queued' THEN NULL ELSE now() - interval '1 hour' END,
               CASE WHEN $4::varchar IN ('succeeded', 'failed', 'cancelled') THEN now() - interval '1 minute' END,
               now() - make_interval(secs => $11 / 1000.0), now() - make_interval(secs => $11 / 1000.0))`,
      [
        id,
        fields.personaId ?? persona,
        { topic: `topic of ${id}` },
        fields.status ?? 'queued',
        fields.attempts ?? 0,
        fields.lastError ?? null,
        fields.callbackUrl ?? null,
        fields.clientId ?? 'anonymous',
        fields.idempotencyKey ?? null,
        fields.requestId ?? null,
        fields.ageMs ?? 0,
      ],
    );
    return id;
  }

  /** The rows as stored (snake_case, straight from the table), with xmin: rows written by one statement share it. */
  async function stored(ids: string[]) {
    const { rows } = await pool.query(`SELECT *, xmin::text AS xmin FROM tasks WHERE id = ANY($1::uuid[])`, [
      ids,
    ]);
    return new Map(rows.map((r) => [r.id as string, r]));
  }
  const one = async (id: string) => (await stored([id])).get(id);

  async function postsOf(taskIds: string[]) {
    const { rows } = await pool.query(
      `SELECT *, xmin::text AS xmin FROM posts WHERE task_id = ANY($1::uuid[])`,
      [taskIds],
    );
    return new Map(rows.map((r) => [r.task_id as string, r]));
  }

  const newTask = (extra: Partial<NewTask> = {}): NewTask => {
    const id = newId();
    return {
      id,
      personaId: persona,
      taskType: 'generate_post',
      input: { topic: `new ${id}` },
      tenant: 'client-a',
      clientId: 'client-a',
      idempotencyKey: null,
      requestFingerprint: null,
      requestId: `req-${id}`,
      callbackUrl: null,
      ...extra,
    };
  };

  const post = (taskId: string, extra: Partial<CompletedPost> = {}): CompletedPost => ({
    id: newId(),
    taskId,
    personaId: persona,
    hook: `hook for ${taskId}`,
    body: `body for ${taskId}`,
    tokensUsed: 42,
    model: 'test-model',
    latencyMs: 7,
    promptTokens: 30,
    completionTokens: 12,
    ...extra,
  });

  describe('row mapping', () => {
    it('maps every column of tasks and posts, so a migration that adds one must map it too', async () => {
      const { rows } = await pool.query(
        `SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name IN ('tasks', 'posts')`,
      );
      const columns = (table: string) =>
        rows
          .filter((r) => r.table_name === table)
          .map((r) => r.column_name as string)
          .sort();
      expect([...MAPPED_COLUMNS.tasks].sort()).toEqual(columns('tasks'));
      expect([...MAPPED_COLUMNS.posts].sort()).toEqual(columns('posts'));
    });

    it('reads a task back with every column under its entity property', async () => {
      const id = await seed({
        status: 'failed',
        attempts: 3,
        lastError: 'boom',
        callbackUrl: 'https://hooks.example/x',
        clientId: 'client-map',
        idempotencyKey: 'key-map',
        requestId: 'req-map',
      });
      await pool.query(`UPDATE tasks SET request_fingerprint = repeat('f', 64) WHERE id = $1`, [id]);
      const row = await one(id);
      expect(await getTaskWithPost(pool, { id, tenant: null })).toEqual({
        task: {
          id,
          personaId: persona,
          taskType: 'generate_post',
          input: { topic: `topic of ${id}` },
          status: 'failed',
          attempts: 3,
          lastError: 'boom',
          tenant: 'client-map',
          clientId: 'client-map',
          idempotencyKey: 'key-map',
          requestFingerprint: 'f'.repeat(64),
          requestId: 'req-map',
          callbackUrl: 'https://hooks.example/x',
          createdAt: row.created_at,
          startedAt: row.started_at,
          finishedAt: row.finished_at,
          updatedAt: row.updated_at,
          promptTokens: null,
          completionTokens: null,
          model: null,
        },
        post: null,
      });
      expect(row.started_at).toBeInstanceOf(Date);
    });
  });

  describe('insert (new -> queued), group-committed by TaskInsertBatcher', () => {
    let inserts: TaskInsertBatcher;
    beforeAll(() => {
      inserts = new TaskInsertBatcher(pool);
    });

    it('concurrent inserts share one statement; each caller gets its own row, queued with no attempts', async () => {
      const tasks = [
        newTask(),
        newTask({ callbackUrl: 'https://hooks.example/i', idempotencyKey: `k-${newId()}` }),
        newTask({ input: { pain_statement: 'p', extras: { n: 1, on: true } } }),
      ];
      const rows = await Promise.all(tasks.map((t) => inserts.insert(t)));
      rows.forEach((row, i) => {
        expect(row).toMatchObject({ ...tasks[i], status: 'queued', attempts: 0, lastError: null });
        expect(row!.startedAt).toBeNull();
        expect(row!.finishedAt).toBeNull();
        expect(row!.createdAt).toBeInstanceOf(Date);
      });
      const after = await stored(tasks.map((t) => t.id));
      expect(new Set(tasks.map((t) => after.get(t.id).xmin)).size).toBe(1);
      expect(after.get(tasks[2].id).input).toEqual({ pain_statement: 'p', extras: { n: 1, on: true } });
    });

    it('an unknown or archived persona, or an idempotency key the client used before, inserts nothing for that caller alone', async () => {
      const archived = await newPersona();
      await pool.query('UPDATE personas SET archived_at = now() WHERE id = $1', [archived]);
      const usedKey = `used-${newId()}`;
      const first = await inserts.insert(newTask({ idempotencyKey: usedKey }));
      expect(first).not.toBeNull();
      const sharedKey = `shared-${newId()}`;

      const attempts = [
        newTask(),
        newTask({ personaId: 'no-such-persona' }),
        newTask({ personaId: archived }),
        newTask({ idempotencyKey: usedKey }),
        newTask({ idempotencyKey: usedKey, tenant: 'client-b' }),
        newTask({ idempotencyKey: sharedKey }),
        newTask({ idempotencyKey: sharedKey }),
      ];
      const rows = await Promise.all(attempts.map((t) => inserts.insert(t)));

      expect(rows.slice(0, 5).map((r) => r?.id ?? null)).toEqual([
        attempts[0].id,
        null,
        null,
        null,
        attempts[4].id,
      ]);
      // Two rows of one statement with one key: exactly one goes in.
      expect(rows.slice(5).filter((r) => r !== null)).toHaveLength(1);
      expect((await stored(attempts.map((t) => t.id))).size).toBe(3);
      expect(
        await findTaskByIdempotencyKey(pool, { tenant: 'client-a', idempotencyKey: usedKey }),
      ).toMatchObject({
        id: first!.id,
      });
    });

    it('a row Postgres refuses fails only its own caller; the rest of its statement is written', async () => {
      const good = [newTask(), newTask()];
      const bad = newTask({ tenant: 't'.repeat(65) });
      const results = await Promise.allSettled([
        inserts.insert(good[0]),
        inserts.insert(bad),
        inserts.insert(good[1]),
      ]);
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: { id: good[0].id } });
      expect(results[2]).toMatchObject({ status: 'fulfilled', value: { id: good[1].id } });
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: '22001' } });
      expect([...(await stored([...good, bad].map((t) => t.id))).keys()].sort()).toEqual(
        good.map((t) => t.id).sort(),
      );
    });

    it('while two INSERTs run, calls wait; those that arrived meanwhile go out as one statement', async () => {
      const waitingInserts = async () => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1
             AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO tasks%'`,
          [APP],
        );
        return rows[0].n as number;
      };
      const locker = await pool.connect();
      const plugs = [newTask(), newTask()];
      const held = Array.from({ length: 20 }, () => newTask());
      let results: unknown[];
      try {
        // SHARE mode blocks INSERTs into tasks: the first two statements wait on it.
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE tasks IN SHARE MODE');
        const running = [] as Promise<unknown>[];
        for (const [n, plug] of plugs.entries()) {
          running.push(inserts.insert(plug));
          await eventually(async () => ((await waitingInserts()) === n + 1 ? true : undefined));
        }
        // Over four event-loop turns: without the limit each turn would be a statement of its own.
        const waiting: Promise<unknown>[] = [];
        for (let turn = 0; turn < 4; turn++) {
          waiting.push(...held.slice(turn * 5, turn * 5 + 5).map((t) => inserts.insert(t)));
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(await waitingInserts()).toBe(2);
        await locker.query('COMMIT');
        results = await Promise.all([...running, ...waiting]);
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        locker.release();
      }
      expect(results.every((r) => r !== null)).toBe(true);
      const after = await stored([...plugs, ...held].map((t) => t.id));
      expect(new Set(held.map((t) => after.get(t.id).xmin)).size).toBe(1);
      const plugXmins = plugs.map((t) => after.get(t.id).xmin);
      expect(new Set([...plugXmins, after.get(held[0].id).xmin]).size).toBe(3);
    });
  });

  describe('claim (queued | running -> running, attempts + 1), group-committed by TaskWriteBatcher', () => {
    let writes: TaskWriteBatcher;
    beforeAll(() => {
      writes = new TaskWriteBatcher(pool);
    });

    it('concurrent claims share one statement; each caller gets its task and persona; a task not runnable gets null and is untouched', async () => {
      const queued = [await seed(), await seed(), await seed()];
      const stalled = await seed({ status: 'running', attempts: 2 });
      const finished = await Promise.all(TERMINAL.map((status) => seed({ status, attempts: 1 })));
      const unknown = newId();
      const before = await stored([stalled, ...finished]);

      const ids = [...queued, stalled, ...finished, unknown];
      const claims = await Promise.all(ids.map((id) => writes.claim(id)));

      const runnable = [...queued, stalled];
      expect(claims.slice(0, 4)).toEqual(
        runnable.map((id) => ({
          id,
          taskType: 'generate_post',
          input: { topic: `topic of ${id}` },
          personaId: persona,
          personaName: `Test ${persona}`,
          systemPrompt: 'You are a test persona.',
          model: 'test-model',
          temperature: 0.5,
          maxTokens: 200,
        })),
      );
      expect(claims.slice(4)).toEqual([null, null, null, null]);

      const after = await stored(ids);
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
      for (const id of finished) expect(after.get(id)).toEqual(before.get(id));
      expect(after.has(unknown)).toBe(false);
    });

    it('reports a missing persona as personaName null', async () => {
      const id = newId();
      await insertOrphanTask(pool, id, 'ghost-tasks', {});
      try {
        const other = await seed();
        const [ghost, fine] = await Promise.all([writes.claim(id), writes.claim(other)]);
        expect(ghost).toMatchObject({
          id,
          personaId: 'ghost-tasks',
          personaName: null,
          systemPrompt: null,
          maxTokens: null,
        });
        expect(fine).toMatchObject({ id: other, personaName: `Test ${persona}` });
      } finally {
        await pool.query('DELETE FROM tasks WHERE id = $1', [id]);
      }
    });

    it('the same task claimed twice in one turn is claimed twice, in two statements, like two separate claims', async () => {
      const id = await seed();
      const other = await seed();
      const claims = await Promise.all([
        writes.claim(id),
        writes.claim(other),
        writes.claim(id.toUpperCase()),
      ]);
      expect(claims.map((c) => c?.id)).toEqual([id, other, id]);
      const after = await stored([id, other]);
      expect(after.get(id).attempts).toBe(2);
      expect(after.get(other).attempts).toBe(1);
    });

    it('with a window, claims and completions made over several turns still share one statement each', async () => {
      // Far longer than a few event-loop turns take even on a busy machine; without a window each
      // turn would send its own statement.
      const windowed = new TaskWriteBatcher(pool, { windowMs: 1000 });
      const ids = [await seed(), await seed(), await seed()];
      const spread = async <T>(call: (id: string) => Promise<T>): Promise<T[]> => {
        const calls: Promise<T>[] = [];
        for (const id of ids) {
          calls.push(call(id));
          await new Promise((resolve) => setImmediate(resolve));
        }
        return Promise.all(calls);
      };

      const claimed = await spread((id) => windowed.claim(id));
      expect(claimed.map((row) => row?.id)).toEqual(ids);
      const afterClaim = await stored(ids);
      expect(new Set(ids.map((id) => afterClaim.get(id).xmin)).size).toBe(1);

      const finished = await spread((id) => windowed.complete(post(id)));
      expect(finished.every((row) => row !== null)).toBe(true);
      const done = await stored(ids);
      expect(ids.map((id) => done.get(id).status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(new Set(ids.map((id) => done.get(id).xmin)).size).toBe(1);
    });

    it('a row Postgres refuses fails only its own caller', async () => {
      const [bad, good] = await Promise.allSettled([writes.claim('not-a-uuid'), writes.claim(await seed())]);
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: '22P02' } });
      expect(good).toMatchObject({ status: 'fulfilled', value: { personaName: `Test ${persona}` } });
    });
  });

  describe('complete (running -> succeeded, with its post), group-committed by TaskWriteBatcher', () => {
    let writes: TaskWriteBatcher;
    beforeAll(() => {
      writes = new TaskWriteBatcher(pool);
    });

    it('concurrent completions share one statement; each caller gets its callbackUrl; a task not running gets null and keeps its status', async () => {
      const running = [
        await seed({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/a' }),
        await seed({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/b' }),
        await seed({ status: 'running', attempts: 1 }),
      ];
      const notRunning = await Promise.all(
        (['queued', ...TERMINAL] as TaskStatus[]).map((status) =>
          seed({ status, callbackUrl: 'https://hooks.example/other' }),
        ),
      );
      const before = await stored(notRunning);
      // Text that array literals must quote and escape, stored exactly as given.
      const awkward = 'She said "hi", {braces}, back\\slash\nNULL, ünïcødé 🚀';
      const inputs = [
        post(running[0], {
          hook: awkward,
          body: `${awkward} body`,
          tokensUsed: 1234,
          latencyMs: 56,
          promptTokens: 1000,
          completionTokens: 234,
        }),
        post(running[1]),
        post(running[2]),
        ...notRunning.map((id) => post(id)),
      ];

      const results = await Promise.all(inputs.map((p) => writes.complete(p)));

      expect(results).toEqual([
        { id: running[0], callbackUrl: 'https://hooks.example/a' },
        { id: running[1], callbackUrl: 'https://hooks.example/b' },
        { id: running[2], callbackUrl: null },
        null,
        null,
        null,
        null,
      ]);
      const after = await stored([...running, ...notRunning]);
      for (const id of running) {
        expect(after.get(id)).toMatchObject({ status: 'succeeded', last_error: null, attempts: 1 });
        expect(after.get(id).finished_at).not.toBeNull();
      }
      // Each task gets its own run's usage, under the post's model.
      expect(after.get(running[0])).toMatchObject({
        prompt_tokens: 1000,
        completion_tokens: 234,
        model: 'test-model',
      });
      expect(after.get(running[1])).toMatchObject({ prompt_tokens: 30, completion_tokens: 12 });
      expect(new Set(running.map((id) => after.get(id).xmin)).size).toBe(1);
      for (const id of notRunning) expect(after.get(id)).toEqual(before.get(id));
      expect((await postsOf(notRunning)).size).toBe(0);

      const written = await postsOf(running);
      expect(written.get(running[0])).toMatchObject({
        id: inputs[0].id,
        persona_id: persona,
        hook: awkward,
        body: `${awkward} body`,
        tokens_used: 1234,
        model: 'test-model',
        latency_ms: 56,
        xmin: after.get(running[0]).xmin,
      });
      expect(written.get(running[1])).toMatchObject({ id: inputs[1].id, hook: `hook for ${running[1]}` });
      expect(written.get(running[2])).toMatchObject({ id: inputs[2].id, xmin: after.get(running[0]).xmin });
    });

    it('the same task completed twice in one turn: exactly one caller gets the row, and its post is the one kept', async () => {
      const id = await seed({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/dup' });
      const other = await seed({ status: 'running', attempts: 1 });
      const results = await Promise.all([
        writes.complete(post(id, { hook: 'first run' })),
        writes.complete(post(other)),
        writes.complete(post(id, { hook: 'second run' })),
      ]);

      expect(results[1]).toEqual({ id: other, callbackUrl: null });
      const winners = [results[0], results[2]].filter((r) => r !== null);
      expect(winners).toEqual([{ id, callbackUrl: 'https://hooks.example/dup' }]);
      const kept = (await postsOf([id])).get(id);
      expect(kept.hook).toBe(results[0] ? 'first run' : 'second run');
      expect(
        (await pool.query('SELECT count(*)::int AS n FROM posts WHERE task_id = $1', [id])).rows,
      ).toEqual([{ n: 1 }]);
      expect(await one(id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    });

    it('a row Postgres refuses fails only its own caller; the rest of its turn is written', async () => {
      const running = [
        await seed({ status: 'running', attempts: 1 }),
        await seed({ status: 'running', attempts: 1 }),
      ];
      const overflow = await seed({ status: 'running', attempts: 1 });
      const missing = newId();

      const results = await Promise.allSettled([
        writes.complete(post(running[0])),
        writes.complete(post(overflow, { tokensUsed: 2 ** 31 })),
        writes.complete(post(missing)),
        writes.complete(post(running[1])),
      ]);

      expect(results[0]).toEqual({ status: 'fulfilled', value: { id: running[0], callbackUrl: null } });
      expect(results[3]).toEqual({ status: 'fulfilled', value: { id: running[1], callbackUrl: null } });
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: '22003' } });
      // A task that does not exist is not moved, so no post is tried for it either.
      expect(results[2]).toEqual({ status: 'fulfilled', value: null });
      const after = await stored([...running, overflow]);
      expect(running.map((id) => after.get(id).status)).toEqual(['succeeded', 'succeeded']);
      expect(after.get(overflow).status).toBe('running');
      expect([...(await postsOf([...running, overflow, missing])).keys()].sort()).toEqual(
        [...running].sort(),
      );
    });

    it('a batch whose connection is killed mid-statement is run again row by row: no finished run is lost', async () => {
      const running = [
        await seed({ status: 'running', attempts: 1 }),
        await seed({ status: 'running', attempts: 1 }),
        await seed({ status: 'running', attempts: 1 }),
      ];
      // Another transaction holds one row, so the batch's statement waits on it: then its backend
      // is terminated, which the statement sees as a lost connection (SQLSTATE 57P01).
      const holder = await pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [running[1]]);
        const results = Promise.all(running.map((id) => writes.complete(post(id))));
        const blocked = await eventually(async () => {
          // Not on the holder: a transaction keeps the pg_stat_activity it saw first.
          const { rows } = await pool.query(
            `SELECT pid FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO posts%' AND pid <> pg_backend_pid()`,
          );
          return rows.length === 1 ? (rows[0].pid as number) : undefined;
        }, 10000);
        const { rows: killed } = await pool.query('SELECT pg_terminate_backend($1) AS ok', [blocked]);
        expect(killed).toEqual([{ ok: true }]);
        await holder.query('ROLLBACK');

        expect(await results).toEqual(running.map((id) => ({ id, callbackUrl: null })));
      } finally {
        holder.release();
      }
      const after = await stored(running);
      expect(running.map((id) => after.get(id).status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect((await postsOf(running)).size).toBe(3);
    });

    it('a task cancelled while its run was in flight stays cancelled and gets no post', async () => {
      const id = await seed({ status: 'running', attempts: 1, callbackUrl: 'https://hooks.example/c' });
      const other = await seed({ status: 'running', attempts: 1 });
      // The run claimed the task; the cancellation lands before its completion does.
      await pool.query(
        `UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now() WHERE id = $1`,
        [id],
      );
      const before = await one(id);

      const results = await Promise.all([writes.complete(post(id)), writes.complete(post(other))]);

      expect(results).toEqual([null, { id: other, callbackUrl: null }]);
      expect(await one(id)).toEqual(before);
      expect([...(await postsOf([id, other])).keys()]).toEqual([other]);
    });
  });

  describe('unclaim (running -> queued, the attempt given back)', () => {
    it('queues a running task again with one attempt less and the reason as last_error; a replay changes nothing', async () => {
      const id = await seed({ status: 'running', attempts: 2 });
      expect(await unclaimTask(pool, { id, reason: 'circuit open' })).toBe(true);
      expect(await one(id)).toMatchObject({ status: 'queued', attempts: 1, last_error: 'circuit open' });
      const before = await one(id);
      expect(await unclaimTask(pool, { id, reason: 'again' })).toBe(false);
      expect(await one(id)).toEqual(before);
    });

    it('never counts attempts below zero', async () => {
      const id = await seed({ status: 'running', attempts: 0 });
      expect(await unclaimTask(pool, { id, reason: 'open' })).toBe(true);
      expect(await one(id)).toMatchObject({ status: 'queued', attempts: 0 });
    });

    it.each(['queued', ...TERMINAL] as TaskStatus[])('refuses a %s task', async (status) => {
      const id = await seed({ status, attempts: 1 });
      const before = await one(id);
      expect(await unclaimTask(pool, { id, reason: 'open' })).toBe(false);
      expect(await one(id)).toEqual(before);
    });
  });

  describe('defer (queued stays queued, with the reason)', () => {
    it('notes the reason on a queued task, changing nothing else', async () => {
      const id = await seed({ attempts: 1 });
      expect(await deferTask(pool, { id, reason: 'circuit open' })).toBe(true);
      expect(await one(id)).toMatchObject({ status: 'queued', attempts: 1, last_error: 'circuit open' });
    });

    it.each(['running', ...TERMINAL] as TaskStatus[])('leaves a %s task alone', async (status) => {
      const id = await seed({ status, lastError: 'earlier' });
      const before = await one(id);
      expect(await deferTask(pool, { id, reason: 'circuit open' })).toBe(false);
      expect(await one(id)).toEqual(before);
    });
  });

  describe('fail (a failed attempt)', () => {
    it('not final: running -> queued with the error, for the queue to retry; attempts unchanged', async () => {
      const id = await seed({ status: 'running', attempts: 2, callbackUrl: 'https://hooks.example/f' });
      expect(await failTask(pool, { id, error: 'LLM 503', final: false })).toEqual({
        callbackUrl: 'https://hooks.example/f',
      });
      expect(await one(id)).toMatchObject({
        status: 'queued',
        attempts: 2,
        last_error: 'LLM 503',
        finished_at: null,
      });
    });

    it('not final: a queued task (the attempt failed before its claim) stays as it is', async () => {
      const id = await seed();
      const before = await one(id);
      expect(await failTask(pool, { id, error: 'x', final: false })).toBeNull();
      expect(await one(id)).toEqual(before);
    });

    it.each(['running', 'queued'] as TaskStatus[])(
      'final: a %s task fails for good, with the error and a finish time',
      async (status) => {
        const id = await seed({ status, attempts: 5 });
        expect(await failTask(pool, { id, error: 'gave up', final: true })).toEqual({ callbackUrl: null });
        const row = await one(id);
        expect(row).toMatchObject({ status: 'failed', attempts: 5, last_error: 'gave up' });
        expect(row.finished_at).not.toBeNull();
      },
    );

    it.each(TERMINAL)('refuses a %s task, final or not: a replay reports nothing new', async (status) => {
      const id = await seed({ status, lastError: 'earlier' });
      const before = await one(id);
      for (const final of [true, false]) {
        expect(await failTask(pool, { id, error: 'late', final })).toBeNull();
      }
      expect(await one(id)).toEqual(before);
    });
  });

  describe('cancel (queued -> cancelled)', () => {
    it('cancels a queued task with a finish time; a second cancel is refused', async () => {
      const id = await seed();
      const task = await cancelTask(pool, { id, tenant: null });
      expect(task).toMatchObject({ id, status: 'cancelled', attempts: 0 });
      expect(task!.finishedAt).toBeInstanceOf(Date);
      expect(await one(id)).toMatchObject({ status: 'cancelled', finished_at: task!.finishedAt });
      expect(await cancelTask(pool, { id, tenant: null })).toBeNull();
    });

    it.each(['running', ...TERMINAL] as TaskStatus[])('refuses a %s task', async (status) => {
      const id = await seed({ status });
      const before = await one(id);
      expect(await cancelTask(pool, { id, tenant: null })).toBeNull();
      expect(await one(id)).toEqual(before);
    });

    it('refuses an unknown task', async () => {
      expect(await cancelTask(pool, { id: newId(), tenant: null })).toBeNull();
    });
  });

  describe('retry (failed -> queued)', () => {
    it('queues a failed task again as a new request: error and times cleared, attempts kept; a replay is refused', async () => {
      const id = await seed({ status: 'failed', attempts: 5, lastError: 'boom', requestId: 'old-request' });
      const task = await retryTask(pool, { id, requestId: 'new-request', tenant: null });
      expect(task).toMatchObject({
        id,
        status: 'queued',
        attempts: 5,
        lastError: null,
        startedAt: null,
        finishedAt: null,
        requestId: 'new-request',
      });
      expect(await one(id)).toMatchObject({ status: 'queued', request_id: 'new-request', last_error: null });
      expect(await retryTask(pool, { id, requestId: 'third', tenant: null })).toBeNull();
    });

    it.each(['queued', 'running', 'succeeded', 'cancelled'] as TaskStatus[])(
      'refuses a %s task',
      async (status) => {
        const id = await seed({ status });
        const before = await one(id);
        expect(await retryTask(pool, { id, requestId: 'r', tenant: null })).toBeNull();
        expect(await one(id)).toEqual(before);
      },
    );
  });

  describe('reconcile', () => {
    const DAY = 24 * 3600 * 1000;
    const window = { queuedGraceMs: 30_000, lostRunningMs: 15_000, staleRunningMs: 120_000 };

    /** Every candidate, page by page after the cursor, as the reconciler sweeps them. */
    async function sweep(limit: number) {
      const pages: Awaited<ReturnType<typeof findTasksToReconcile>>[] = [];
      let after: ReconcileCursor | null = null;
      for (;;) {
        const page = await findTasksToReconcile(pool, { ...window, after, limit });
        pages.push(page);
        if (page.length < limit) return pages;
        after = page[page.length - 1].cursor;
      }
    }

    it('finds queued tasks past the grace period and running ones past the lock duration, oldest first', async () => {
      // Older than anything else in the test database, so the first page starts with these.
      const oldQueued = await seed({ ageMs: 1000 * DAY, requestId: 'req-old' });
      const oldRunning = await seed({ status: 'running', ageMs: 999 * DAY });
      const graceQueued = await seed({ ageMs: 998 * DAY });
      const lostRunning = await seed({ status: 'running', ageMs: 60_000 });
      const recentRunning = await seed({ status: 'running', ageMs: 5_000 });
      const freshQueued = await seed({ ageMs: 0 });
      const finished = await Promise.all(TERMINAL.map((status) => seed({ status, ageMs: 1001 * DAY })));
      const mine = [oldQueued, oldRunning, graceQueued, lostRunning, recentRunning, freshQueued, ...finished];

      const found = (await sweep(10_000)).flat().filter((c) => mine.includes(c.id));
      expect(found.map(({ cursor: _cursor, ...c }) => c)).toEqual([
        { id: oldQueued, status: 'queued', requestId: 'req-old', staleRunning: false },
        { id: oldRunning, status: 'running', requestId: null, staleRunning: true },
        { id: graceQueued, status: 'queued', requestId: null, staleRunning: false },
        { id: lostRunning, status: 'running', requestId: null, staleRunning: false },
      ]);
      expect(found.map((c) => c.cursor.id)).toEqual(found.map((c) => c.id));
      await pool.query('DELETE FROM tasks WHERE id = ANY($1)', [mine]);
    });

    it('the keyset cursor reads every candidate exactly once, across pages, even when they share a timestamp', async () => {
      const ids = await Promise.all(Array.from({ length: 25 }, () => seed({ ageMs: 2000 * DAY })));
      // Same microsecond for all but one: the id breaks the tie.
      await pool.query(
        `UPDATE tasks SET updated_at = '2000-01-01T00:00:00.123456Z' WHERE id = ANY($1) AND id <> $2`,
        [ids, ids[0]],
      );
      const pages = await sweep(4);
      expect(pages.length).toBeGreaterThan(6);
      const seen = pages.flat().map((c) => c.id);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
      await pool.query('DELETE FROM tasks WHERE id = ANY($1)', [ids]);
    });

    it('requeues a running task not moved for the given time; refuses a recent one and any other status', async () => {
      const id = await seed({ status: 'running', attempts: 1, ageMs: DAY });
      expect(await requeueLostTask(pool, { id, olderThanMs: 15_000 })).toBe(true);
      const row = await one(id);
      expect(row).toMatchObject({ status: 'queued', attempts: 1 });
      expect(Date.now() - row.updated_at.getTime()).toBeLessThan(60_000);
      const recent = await seed({ status: 'running', attempts: 1, ageMs: 1_000 });
      for (const other of [
        recent,
        ...(await Promise.all(
          (['queued', ...TERMINAL] as TaskStatus[]).map((status) => seed({ status, ageMs: DAY })),
        )),
      ]) {
        const before = await one(other);
        expect(await requeueLostTask(pool, { id: other, olderThanMs: 15_000 })).toBe(false);
        expect(await one(other)).toEqual(before);
      }
    });

    it('one holder of the lease at a time; it keeps the cursor, and runs out when not renewed', async () => {
      const a = `a-${newId()}`;
      const b = `b-${newId()}`;
      expect(await acquireReconcilerLease(pool, { holder: a, ttlMs: 60_000 })).not.toBeNull();
      expect(await acquireReconcilerLease(pool, { holder: b, ttlMs: 60_000 })).toBeNull();
      const cursor = { updatedAt: '2026-01-02 03:04:05.123456+00', id: newId() };
      expect(await saveReconcilerCursor(pool, { holder: a, ttlMs: 60_000, cursor })).toBe(true);
      expect(await saveReconcilerCursor(pool, { holder: b, ttlMs: 60_000, cursor: null })).toBe(false);
      await releaseReconcilerLease(pool, { holder: a });

      const taken = await acquireReconcilerLease(pool, { holder: b, ttlMs: 200 });
      expect(taken).not.toBeNull();
      // The cursor survives a change of holder, to the microsecond.
      const { rows } = await pool.query(`SELECT $1::timestamptz = $2::timestamptz AS same`, [
        taken!.cursor!.updatedAt,
        cursor.updatedAt,
      ]);
      expect(rows[0].same).toBe(true);
      expect(taken!.cursor!.id).toBe(cursor.id);
      // b stops renewing: its lease runs out and a takes over.
      await eventually(
        async () => ((await acquireReconcilerLease(pool, { holder: a, ttlMs: 60_000 })) ? true : undefined),
        5000,
        50,
      );
      expect(await saveReconcilerCursor(pool, { holder: b, ttlMs: 60_000, cursor: null })).toBe(false);
      expect(await saveReconcilerCursor(pool, { holder: a, ttlMs: 60_000, cursor: null })).toBe(true);
      await releaseReconcilerLease(pool, { holder: a });
    });
  });

  describe('reads', () => {
    it('a task with its post once succeeded; never a post of a task that did not succeed; null for an unknown id', async () => {
      const writes = new TaskWriteBatcher(pool);
      const succeeded = await seed({ status: 'running', attempts: 1 });
      const written = post(succeeded);
      await writes.complete(written);
      const found = await getTaskWithPost(pool, { id: succeeded, tenant: null });
      expect(found?.task).toMatchObject({ id: succeeded, status: 'succeeded' });
      const { rows } = await pool.query('SELECT created_at FROM posts WHERE id = $1', [written.id]);
      expect(found?.post).toEqual({
        id: written.id,
        taskId: succeeded,
        personaId: persona,
        tenant: 'anonymous',
        hook: written.hook,
        body: written.body,
        tokensUsed: 42,
        model: 'test-model',
        latencyMs: 7,
        createdAt: rows[0].created_at,
      });

      // A post left by a run that lost its race (the task failed meanwhile) is not the task's output.
      const failed = await seed({ status: 'failed' });
      await pool.query(
        `INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
         VALUES ($1, $2, $3, 'h', 'b', 1, 'm', 1)`,
        [newId(), failed, persona],
      );
      expect(await getTaskWithPost(pool, { id: failed, tenant: null })).toMatchObject({
        task: { id: failed, status: 'failed' },
        post: null,
      });
      expect(await getTaskWithPost(pool, { id: newId(), tenant: null })).toBeNull();
    });

    it('every read and change is scoped to a tenant: another tenant sees nothing and changes nothing', async () => {
      const queued = await seed({ clientId: 'tenant-a' });
      const failed = await seed({ clientId: 'tenant-a', status: 'failed' });
      expect(await getTaskWithPost(pool, { id: queued, tenant: 'tenant-b' })).toBeNull();
      expect(await getTaskWithPost(pool, { id: queued, tenant: 'tenant-a' })).toMatchObject({
        task: { id: queued, tenant: 'tenant-a' },
      });
      expect(await cancelTask(pool, { id: queued, tenant: 'tenant-b' })).toBeNull();
      expect(await retryTask(pool, { id: failed, requestId: 'r', tenant: 'tenant-b' })).toBeNull();
      expect((await one(queued))!.status).toBe('queued');
      expect((await one(failed))!.status).toBe('failed');
      const listed = await listTasks(pool, { tenant: 'tenant-b', limit: 100 });
      expect(listed.map((t) => t.id)).not.toEqual(expect.arrayContaining([queued]));
      const own = await listTasks(pool, { tenant: 'tenant-a', limit: 100 });
      expect(own.map((t) => t.id)).toEqual(expect.arrayContaining([queued, failed]));
      expect(own.every((t) => t.tenant === 'tenant-a')).toBe(true);
      expect(await cancelTask(pool, { id: queued, tenant: 'tenant-a' })).toMatchObject({
        status: 'cancelled',
      });
    });

    it('finds a task by idempotency key within its tenant only', async () => {
      const key = `idem-${newId()}`;
      const id = await seed({ clientId: 'client-x', idempotencyKey: key });
      expect(await findTaskByIdempotencyKey(pool, { tenant: 'client-x', idempotencyKey: key })).toMatchObject(
        {
          id,
          clientId: 'client-x',
          idempotencyKey: key,
        },
      );
      expect(await findTaskByIdempotencyKey(pool, { tenant: 'client-y', idempotencyKey: key })).toBeNull();
    });

    it('lists newest first with filters, a keyset cursor and a limit', async () => {
      const listed = await newPersona();
      const ids: string[] = [];
      for (const [i, status] of (
        ['queued', 'failed', 'queued', 'succeeded', 'queued'] as TaskStatus[]
      ).entries()) {
        ids.push(await seed({ personaId: listed, status, ageMs: (5 - i) * 60_000 }));
      }
      const newestFirst = [...ids].reverse();
      const list = (
        args: Omit<Parameters<typeof listTasks>[1], 'tenant' | 'personaId' | 'limit'> & { limit?: number },
      ) =>
        listTasks(pool, { tenant: null, personaId: listed, limit: 100, ...args }).then((tasks) =>
          tasks.map((t) => t.id),
        );

      expect(await list({})).toEqual(newestFirst);
      expect(await list({ status: 'queued' })).toEqual([ids[4], ids[2], ids[0]]);
      expect(await list({ limit: 2 })).toEqual(newestFirst.slice(0, 2));
      expect(await list({ beforeId: ids[3], limit: 2 })).toEqual([ids[2], ids[1]]);
      expect(await list({ status: 'queued', beforeId: ids[2] })).toEqual([ids[0]]);
      const third = (await one(ids[2])).created_at as Date;
      expect(await list({ createdAfter: third })).toEqual([ids[4], ids[3], ids[2]]);
      expect(await list({ createdBefore: third })).toEqual([ids[1], ids[0]]);
      expect(await list({ createdAfter: new Date(Date.now() + 60_000) })).toEqual([]);
      const rows = await listTasks(pool, { tenant: null, personaId: listed, status: 'failed', limit: 1 });
      expect(rows).toEqual([expect.objectContaining({ id: ids[1], personaId: listed, status: 'failed' })]);
    });
  });
});
