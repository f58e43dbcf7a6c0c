import {
  cancelRunningTask,
  cancelTask,
  claimWebhookEvents,
  createSqlPool,
  failTask,
  getTaskWithPost,
  recordWebhookAttempt,
  releaseWebhookEvents,
  taskJson,
  TaskWriteBatcher,
  type TaskStatus,
} from '@app/db';
import { newId } from '@app/platform';
import type { Pool } from 'pg';
import { createPersona } from '../../../test/support/db';
import { testConfig } from '../../../test/support/test-env';

/**
 * The webhook outbox (libs/db/src/webhooks): every terminal transition of a task with a callback
 * writes its event in the same statement, with the task as the API shows it; the dispatcher's
 * claim, release and outcome statements.
 */
describe('webhook outbox', () => {
  const HOOK = 'https://hooks.example/outbox';
  let pool: Pool;
  let persona: string;
  let writes: TaskWriteBatcher;

  beforeAll(async () => {
    pool = createSqlPool(testConfig(), 'test-webhook-outbox', 4);
    persona = await createPersona(pool, 'outbox');
    writes = new TaskWriteBatcher(pool);
  });
  afterAll(async () => {
    // Events go with their tasks (ON DELETE CASCADE); other suites see every task row.
    await pool.query('DELETE FROM tasks WHERE persona_id = $1', [persona]);
    await pool.end();
  });

  async function seed(status: TaskStatus, callbackUrl: string | null = HOOK): Promise<string> {
    const id = newId();
    await pool.query(
      `INSERT INTO tasks (id, persona_id, task_type, input, status, attempts, callback_url, request_id, started_at)
       VALUES ($1, $2, 'generate_post', $3, $4::varchar, 1, $5, $6, CASE WHEN $4::varchar = 'queued' THEN NULL ELSE now() END)`,
      [id, persona, { topic: `outbox ${id}` }, status, callbackUrl, `req-${id}`],
    );
    return id;
  }

  /** The events of a task, with the xmin of their row (rows written by one statement share it). */
  async function eventsOf(taskId: string) {
    const { rows } = await pool.query(
      `SELECT e.*, e.xmin::text AS xmin, t.xmin::text AS task_xmin
       FROM webhook_events e JOIN tasks t ON t.id = e.task_id WHERE e.task_id = $1`,
      [taskId],
    );
    return rows;
  }

  /** The payload must be what the API shows for the task right after the transition. */
  async function expectPayloadIsTaskJson(taskId: string, payload: unknown): Promise<void> {
    const found = await getTaskWithPost(pool, { id: taskId, tenant: null });
    expect(payload).toEqual(JSON.parse(JSON.stringify(taskJson(found!.task, found!.post))));
  }

  const post = (taskId: string) => ({
    id: newId(),
    taskId,
    personaId: persona,
    hook: `hook ${taskId}`,
    body: `body ${taskId}`,
    tokensUsed: 9,
    model: 'test-model',
    latencyMs: 3,
    promptTokens: 4,
    completionTokens: 5,
  });

  it('completion writes one pending task.succeeded event, post included, in the same statement', async () => {
    const id = await seed('running');
    const bare = await seed('running', null);
    expect(await Promise.all([writes.complete(post(id)), writes.complete(post(bare))])).toHaveLength(2);
    const [event, ...more] = await eventsOf(id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      type: 'task.succeeded',
      status: 'pending',
      attempts: 0,
      delivered_at: null,
      xmin: event.task_xmin,
    });
    expect(event.payload.post).toMatchObject({ task_id: id, hook: `hook ${id}` });
    await expectPayloadIsTaskJson(id, event.payload);
    expect(await eventsOf(bare)).toEqual([]); // no callback, no event
  });

  it('a completion that does not happen (task cancelled meanwhile) writes no event and no post', async () => {
    const id = await seed('cancelled');
    expect(await writes.complete(post(id))).toBeNull();
    expect(await eventsOf(id)).toEqual([]);
  });

  it('a final failure writes task.failed; an attempt that will be retried writes nothing', async () => {
    const retried = await seed('running');
    expect(await failTask(pool, { id: retried, error: 'LLM 503', final: false })).not.toBeNull();
    expect(await eventsOf(retried)).toEqual([]);

    for (const status of ['running', 'queued'] as TaskStatus[]) {
      const id = await seed(status);
      expect(await failTask(pool, { id, error: 'gave up', final: true })).toEqual({ callbackUrl: HOOK });
      const events = await eventsOf(id);
      expect(events).toEqual([expect.objectContaining({ type: 'task.failed', xmin: events[0].task_xmin })]);
      expect(events[0].payload).toMatchObject({ status: 'failed', last_error: 'gave up', post: null });
      await expectPayloadIsTaskJson(id, events[0].payload);
      // A replay moves nothing and writes nothing.
      expect(await failTask(pool, { id, error: 'again', final: true })).toBeNull();
      expect(await eventsOf(id)).toHaveLength(1);
    }
  });

  it('a cancel writes task.cancelled; a refused cancel writes nothing', async () => {
    const id = await seed('queued');
    expect(await cancelTask(pool, { id, tenant: null })).toMatchObject({ id, status: 'cancelled' });
    const events = await eventsOf(id);
    expect(events).toEqual([expect.objectContaining({ type: 'task.cancelled', xmin: events[0].task_xmin })]);
    await expectPayloadIsTaskJson(id, events[0].payload);
    expect(await cancelTask(pool, { id, tenant: null })).toBeNull();
    expect(await eventsOf(id)).toHaveLength(1);
    const running = await seed('running');
    expect(await cancelTask(pool, { id: running, tenant: null })).toBeNull();
    expect(await eventsOf(running)).toEqual([]);
  });

  it('cancelling a running task writes task.cancelled; a refused one writes nothing', async () => {
    const id = await seed('running');
    expect(await cancelRunningTask(pool, { id, tenant: null })).toMatchObject({ id, status: 'cancelled' });
    const events = await eventsOf(id);
    expect(events).toEqual([expect.objectContaining({ type: 'task.cancelled', xmin: events[0].task_xmin })]);
    await expectPayloadIsTaskJson(id, events[0].payload);
    expect(await cancelRunningTask(pool, { id, tenant: null })).toBeNull();
    expect(await eventsOf(id)).toHaveLength(1);
  });

  it('dispatch: a claimed event is not claimed again until released or its lease ends; settled events never', async () => {
    // Everything pending from earlier tests (and other suites) is claimed first, so only ours are due.
    while ((await claimWebhookEvents(pool, { limit: 1000, leaseMs: 60_000 })).length > 0);
    const ids = [await seed('queued'), await seed('queued'), await seed('queued')];
    for (const id of ids) await cancelTask(pool, { id, tenant: null });
    const eventId = async (taskId: string) => (await eventsOf(taskId))[0].id as string;
    const [a, b, c] = await Promise.all(ids.map(eventId));

    const first = await claimWebhookEvents(pool, { limit: 2, leaseMs: 60_000 });
    const second = await claimWebhookEvents(pool, { limit: 10, leaseMs: 60_000 });
    expect(first.map((e) => e.id).sort()).toEqual([a, b].sort());
    expect(second.map((e) => e.id)).toEqual([c]);
    expect(first[0]).toMatchObject({ type: 'task.cancelled', createdAt: expect.any(Date) });
    expect(await claimWebhookEvents(pool, { limit: 10, leaseMs: 60_000 })).toEqual([]);

    // A failed queue.add releases its events; they are due again.
    expect(await releaseWebhookEvents(pool, { ids: [a, b], delayMs: 0 })).toBe(2);
    expect((await claimWebhookEvents(pool, { limit: 10, leaseMs: 0 })).map((e) => e.id).sort()).toEqual(
      [a, b].sort(),
    );

    // Outcomes: a retry counts the try, delivered and dead settle the event for good.
    expect(await recordWebhookAttempt(pool, { id: a, attempts: 1, outcome: 'retry', error: '503' })).toBe(
      true,
    );
    expect(await recordWebhookAttempt(pool, { id: a, attempts: 2, outcome: 'delivered', error: null })).toBe(
      true,
    );
    expect(await recordWebhookAttempt(pool, { id: b, attempts: 4, outcome: 'dead', error: '500' })).toBe(
      true,
    );
    expect(await recordWebhookAttempt(pool, { id: a, attempts: 3, outcome: 'dead', error: 'late' })).toBe(
      false,
    );
    const { rows } = await pool.query(
      'SELECT id, status, attempts, last_error, delivered_at FROM webhook_events WHERE id = ANY($1::uuid[])',
      [[a, b]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(a)).toMatchObject({ status: 'delivered', attempts: 2, last_error: null });
    expect(byId.get(a).delivered_at).toBeInstanceOf(Date);
    expect(byId.get(b)).toMatchObject({ status: 'dead', attempts: 4, last_error: '500', delivered_at: null });
    await releaseWebhookEvents(pool, { ids: [a, b, c], delayMs: 0 });
    expect((await claimWebhookEvents(pool, { limit: 10, leaseMs: 60_000 })).map((e) => e.id)).toEqual([c]);
  });
});
