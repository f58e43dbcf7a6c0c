import type { Job, Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { countRows, createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { TaskRunnerService } from '../src/agent/task-runner.service';
import type { RunTaskJobData } from '@app/platform';

describe('full flow: API -> Postgres -> Bull -> worker -> result -> API', () => {
  let api: RunningApp;
  let worker: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    api = await startOrchestrator();
    worker = await startWorker();
    pool = testPool();
    persona = await createPersona(pool, 'flow');
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
    await pool.end();
  });

  it('a created task is run by the worker and GET shows its post', async () => {
    const created = await request(api.url, 'POST', '/v1/tasks', {
      body: {
        persona_id: persona,
        task_type: 'generate_post',
        pain_statement: 'Our builds are slow',
        topic: 'CI speed',
      },
    });
    expect(created.status).toBe(202);

    const done = await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=10`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, last_error: null });
    expect(done.body.started_at).not.toBeNull();
    expect(done.body.finished_at).not.toBeNull();
    expect(done.body.post).toMatchObject({
      task_id: created.body.id,
      persona_id: persona,
      model: 'builtin-v1',
    });
    expect(done.body.post.hook).toContain('CI speed');
    expect(done.body.post.body).toContain('Our builds are slow');
    expect(done.body.post.tokens_used).toBeGreaterThan(0);
  });

  it('long-poll returns as soon as the worker finishes, not at the deadline', async () => {
    const created = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_thread', trend_snippet: 'Agents everywhere' },
    });
    const done = await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=25`);
    expect(done.body.status).toBe('succeeded');
    expect(done.ms).toBeLessThan(5000);
    expect(done.body.post.body).toMatch(/^1\/\d /);
  });

  it('a job delivered twice yields one post and a consistent status', async () => {
    const created = await request(api.url, 'POST', '/v1/tasks', {
      body: { persona_id: persona, task_type: 'generate_post', topic: 'twice' },
    });
    await request(api.url, 'GET', `/v1/tasks/${created.body.id}?wait=10`);
    const runner = worker.app.get(TaskRunnerService);
    const job = {
      id: created.body.id,
      data: { taskId: created.body.id, requestId: null },
    } as Job<RunTaskJobData>;
    await expect(runner.run(job)).resolves.toBe('skipped');

    // Even two concurrent runs of a task that is still "running" (a stalled job re-delivered) give one post.
    await pool.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [created.body.id]);
    await Promise.all([runner.run(job), runner.run(job)]);
    expect(await countRows(pool, 'posts', 'task_id = $1', [created.body.id])).toBe(1);
    const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [created.body.id]);
    expect(rows[0].status).toBe('succeeded');
  });

  it('a task cancelled before a worker reaches it is never run', async () => {
    const queue = api.app.get<Queue>('BullQueue_agent-tasks');
    await queue.pause(false);
    // pause() on the orchestrator's queue pauses the queue globally, so the worker cannot take the job.
    try {
      const created = await request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: persona, task_type: 'generate_post', topic: 'never run' },
      });
      const cancelled = await request(api.url, 'POST', `/v1/tasks/${created.body.id}/cancel`);
      expect(cancelled.body.status).toBe('cancelled');
      // Simulate the race where the job was already taken: run it directly.
      const runner = worker.app.get(TaskRunnerService);
      await expect(
        runner.run({
          id: created.body.id,
          data: { taskId: created.body.id, requestId: null },
        } as Job<RunTaskJobData>),
      ).resolves.toBe('skipped');
      expect(await countRows(pool, 'posts', 'task_id = $1', [created.body.id])).toBe(0);
      const { rows } = await pool.query('SELECT status, attempts FROM tasks WHERE id = $1', [
        created.body.id,
      ]);
      expect(rows[0]).toEqual({ status: 'cancelled', attempts: 0 });
    } finally {
      await queue.resume(false);
    }
  });

  it('GET /v1/posts lists the posts of a persona, newest first, with pagination', async () => {
    const postsPersona = await createPersona(pool, 'posts');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(api.url, 'POST', '/v1/tasks', {
        body: { persona_id: postsPersona, task_type: 'generate_post', topic: `p${i}` },
      });
      ids.push(res.body.id);
    }
    await eventually(async () =>
      (await countRows(pool, 'posts', 'persona_id = $1', [postsPersona])) === 3 ? true : undefined,
    );
    const page1 = await request(api.url, 'GET', `/v1/posts?persona_id=${postsPersona}&limit=2`);
    expect(page1.body.data).toHaveLength(2);
    const page2 = await request(
      api.url,
      'GET',
      `/v1/posts?persona_id=${postsPersona}&limit=2&cursor=${page1.body.next_cursor}`,
    );
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.next_cursor).toBeNull();
    const taskIds = [...page1.body.data, ...page2.body.data].map((p: { task_id: string }) => p.task_id);
    expect(new Set(taskIds)).toEqual(new Set(ids));

    const one = await request(api.url, 'GET', `/v1/posts/${page1.body.data[0].id}`);
    expect(one.body).toEqual(page1.body.data[0]);
    expect((await request(api.url, 'GET', '/v1/posts/00000000-0000-7000-8000-000000000000')).status).toBe(
      404,
    );
  });

  it('the worker answers /health/live', async () => {
    const res = await request(worker.url, 'GET', '/health/live');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
