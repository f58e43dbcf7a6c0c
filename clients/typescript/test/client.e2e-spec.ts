import {
  AgentPlatformError,
  createAgentPlatformClient,
  TaskWaitTimeoutError,
  type AgentPlatformClient,
  type TaskEvent,
} from '@agent-platform/client';
import { connect } from 'node:net';
import type { Pool } from 'pg';
import { ALL_API_SCOPES, apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';

/** The task flow a client sees, through @agent-platform/client against the real orchestrator and worker. */
describe('@agent-platform/client against the real apps', () => {
  const key = testKey('client-e2e', ALL_API_SCOPES);
  const prefix = `test-client-${process.pid}-${Date.now().toString(36)}`;
  let api: RunningApp;
  let worker: RunningApp | undefined;
  let pool: Pool;
  let client: AgentPlatformClient;
  let persona: string;

  beforeAll(async () => {
    pool = testPool();
    persona = await createPersona(pool, 'client');
    api = await startOrchestrator({
      API_KEYS: apiKeysEnv([key]),
      RATE_LIMIT_ENABLED: 'true',
      QUEUE_PREFIX: prefix,
    });
    client = createAgentPlatformClient({ baseUrl: api.url, apiKey: key.secret });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await pool?.end();
  });

  const input = (topic: string) => ({ persona_id: persona, task_type: 'generate_post' as const, topic });

  it('manages personas: create, get, list, update, delete (archive)', async () => {
    const id = `client-${Date.now().toString(36)}`;
    const created = await client.personas.create({
      id,
      name: 'Client Persona',
      system_prompt: 'You write short posts.',
      model: 'gpt-4o-mini',
      temperature: 0.3,
      max_tokens: 200,
    });
    expect(created).toMatchObject({ id, name: 'Client Persona', archived_at: null });
    expect(await client.personas.get(id)).toEqual(created);
    expect(await client.personas.update(id, { temperature: 0.8 })).toMatchObject({ id, temperature: 0.8 });
    const page = await client.personas.list({ limit: 100 });
    expect(page.data.map((p) => p.id)).toContain(id);

    await client.personas.delete(id);
    expect((await client.personas.get(id)).archived_at).not.toBeNull();
    const refused = await client.personas.update(id, { name: 'x' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AgentPlatformError);
    expect(refused).toMatchObject({ status: 409, body: { statusCode: 409, error: 'Conflict' } });
  });

  it('cancels a queued task; a second cancel is a 409 AgentPlatformError with the body and request id', async () => {
    const task = await client.tasks.create(input('to be cancelled'));
    expect(task.status).toBe('queued');
    expect(await client.tasks.cancel(task.id)).toMatchObject({ id: task.id, status: 'cancelled' });

    const again = (await client.tasks.cancel(task.id).catch((e: unknown) => e)) as AgentPlatformError;
    expect(again).toBeInstanceOf(AgentPlatformError);
    expect(again.status).toBe(409);
    expect(again.body?.message).toBe(
      `Task ${task.id} is cancelled; only a queued or running task can be cancelled`,
    );
    expect(again.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives up waiting with TaskWaitTimeoutError while no worker runs', async () => {
    const task = await client.tasks.create(input('nobody works yet'));
    const error = await client.tasks.waitFor(task.id, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskWaitTimeoutError);
    expect((error as TaskWaitTimeoutError).task).toMatchObject({ id: task.id, status: 'queued' });
    await client.tasks.cancel(task.id);
  });

  it('submits with an Idempotency-Key, waits by long-poll, reads the post; a failed task is retried', async () => {
    worker = await startWorker({ QUEUE_PREFIX: prefix });
    const idempotencyKey = `client-${prefix}`;
    const task = await client.tasks.create(input('typed clients'), { idempotencyKey });
    const replay = await client.tasks.create(input('typed clients'), { idempotencyKey });
    expect(replay.id).toBe(task.id);

    const done = await client.tasks.waitFor(task.id, { timeoutMs: 20_000 });
    expect(done).toMatchObject({ id: task.id, status: 'succeeded', post: { task_id: task.id } });
    expect(await client.posts.get(done.post!.id)).toEqual(done.post);
    const posts = await client.posts.list({ persona_id: persona, limit: 100 });
    expect(posts.data.map((p) => p.id)).toContain(done.post!.id);
    const listed = await client.tasks.list({ persona_id: persona, status: 'succeeded' });
    expect(listed.data.map((t) => t.id)).toContain(task.id);

    // A task that failed for good: retry queues it again and the worker finishes it.
    const failed = await client.tasks.create(input('second chance'));
    await client.tasks.waitFor(failed.id, { timeoutMs: 20_000 });
    await pool.query(`UPDATE tasks SET status = 'failed', last_error = 'simulated' WHERE id = $1`, [
      failed.id,
    ]);
    await pool.query(`DELETE FROM posts WHERE task_id = $1`, [failed.id]);
    expect(await client.tasks.retry(failed.id)).toMatchObject({ id: failed.id, status: 'queued' });
    expect(await client.tasks.waitFor(failed.id, { timeoutMs: 20_000 })).toMatchObject({
      status: 'succeeded',
      last_error: null,
    });
  });

  it("follows a task's server-sent events to its terminal status; a resume after the end gets that status again", async () => {
    worker ??= await startWorker({ QUEUE_PREFIX: prefix });
    const task = await client.tasks.create(input('live view'));
    const seen: TaskEvent[] = [];
    for await (const event of client.tasks.events(task.id)) seen.push(event);
    expect(seen[0].event).toBe('status');
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ event: 'status', data: { id: task.id, status: 'succeeded' } });
    expect(last.data).toEqual(await client.tasks.get(task.id));
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);

    const resumed: TaskEvent[] = [];
    for await (const event of client.tasks.events(task.id, { lastEventId: last.id })) resumed.push(event);
    expect(resumed.map((e) => [e.event, e.event === 'status' ? e.data.status : null])).toEqual([
      ['status', 'succeeded'],
    ]);

    const unknown = await (async () => {
      for await (const event of client.tasks.events('0190a1b2-0000-7000-8000-000000000000')) return event;
    })().catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(AgentPlatformError);
    expect((unknown as AgentPlatformError).status).toBe(404);
  });

  it('retries a 503 after its Retry-After once the replica has room again', async () => {
    const busy = await startOrchestrator({ MAX_IN_FLIGHT: '1' });
    // A request whose body never finishes holds the replica's only slot.
    const held = connect(Number(new URL(busy.url).port), '127.0.0.1');
    held.on('error', () => undefined);
    held.write(
      'POST /v1/personas HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    const statuses: number[] = [];
    const retrying = createAgentPlatformClient({
      baseUrl: busy.url,
      fetch: async (request) => {
        const response = await fetch(request);
        statuses.push(response.status);
        // The first refusal frees the slot, so the retry after Retry-After finds room.
        if (response.status === 503) held.destroy();
        return response;
      },
    });
    try {
      // Until the held request has reached the shedder, requests may still pass.
      for (let i = 0; i < 50 && !statuses.includes(503); i++) await retrying.personas.list({ limit: 1 });
      expect(statuses).toContain(503);
      const afterRefusal = statuses.length;
      expect(statuses[afterRefusal - 1]).toBe(200);
      expect(statuses[afterRefusal - 2]).toBe(503);
    } finally {
      held.destroy();
      await busy.close();
    }
  });
});
