import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { WEBHOOK_QUEUE } from '@app/platform';
import { Webhook } from 'standardwebhooks';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';
import { startPrivateRedis, type PrivateRedis } from '../../../test/support/redis-server';
import { createTask, waitForStatus } from '../../../test/support/tasks';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

// Two secrets, as during a rotation: receivers holding either one verify every delivery.
const SECRET = `whsec_${Buffer.from('test-webhook-secret-0123456789-current').toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.from('test-webhook-secret-0123456789-retiring').toString('base64')}`;

describe('task webhooks', () => {
  let receiver: WebhookReceiver;
  let sim: RunningSim;
  let api: RunningApp;
  let worker: RunningApp;
  let workerRunning = false;
  let pool: Pool;
  let persona: string;

  /**
   * Every worker dispatches every pending outbox event, whatever its queue prefix: the tests that
   * need one particular worker to do it stop the main one first.
   */
  async function stopMainWorker(): Promise<void> {
    if (!workerRunning) return;
    workerRunning = false;
    await worker.close();
  }

  interface EventRow {
    id: string;
    type: string;
    status: string;
    attempts: number;
    last_error: string | null;
    delivered_at: Date | null;
  }
  async function eventsOf(taskId: string): Promise<EventRow[]> {
    const { rows } = await pool.query<EventRow>(
      'SELECT id, type, status, attempts, last_error, delivered_at FROM webhook_events WHERE task_id = $1',
      [taskId],
    );
    return rows;
  }
  /** Waits until the task's one event is no longer pending, and returns it. */
  const settledEvent = (taskId: string) =>
    eventually(async () => {
      const events = await eventsOf(taskId);
      expect(events.length).toBeLessThanOrEqual(1);
      return events[0] && events[0].status !== 'pending' ? events[0] : undefined;
    }, 15000);

  const env = (overrides: Record<string, string> = {}) => ({
    QUEUE_PREFIX: 'test-webhooks',
    WEBHOOK_SECRET: `${SECRET} ${OLD_SECRET}`,
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true', // the receiver listens on 127.0.0.1
    WEBHOOK_BACKOFF_BASE_MS: '50',
    WEBHOOK_MAX_ATTEMPTS: '4',
    LLM_PROVIDER: 'openai',
    LLM_MAX_RETRIES: '0',
    LLM_BREAKER_VOLUME_THRESHOLD: '100000',
    WORKER_BACKOFF_BASE_MS: '20',
    WORKER_BACKOFF_MAX_MS: '50',
    ...overrides,
  });

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    sim = await startLlmSim();
    api = await startOrchestrator(env());
    worker = await startWorker(env({ LLM_BASE_URL: sim.baseUrl }));
    workerRunning = true;
    pool = testPool();
    persona = await createPersona(pool, 'webhooks');
  });
  afterAll(async () => {
    await stopMainWorker();
    await api.close();
    await sim.close();
    await receiver.close();
    await pool.end();
  });
  beforeEach(async () => {
    await sim.setKnobs({ errorRate: 0 });
  });

  const deliveriesFor = (taskId: string) =>
    receiver.received.filter((r) => JSON.parse(r.body).task.id === taskId);

  it('POSTs a signed task.succeeded event, retrying while the receiver fails; the task is unaffected', async () => {
    receiver.failNext(2, 503);
    const id = await createTask(api.url, {
      persona_id: persona,
      topic: 'webhooks',
      callback_url: receiver.url,
    });
    await waitForStatus(pool, id, ['succeeded']);
    const deliveries = await eventually(async () => {
      const d = deliveriesFor(id);
      return d.length >= 3 ? d : undefined;
    }, 10000);
    expect(deliveries).toHaveLength(3); // two refused, then delivered: and no more

    // Each try is verified as a receiver does it, with the Standard Webhooks reference library.
    const verify = (secret: string, body: string, headers: Record<string, unknown>) =>
      new Webhook(secret).verify(body, headers as Record<string, string>);
    for (const delivery of deliveries) {
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(verify(SECRET, delivery.body, delivery.headers)).toEqual(JSON.parse(delivery.body));
      expect(verify(OLD_SECRET, delivery.body, delivery.headers)).toEqual(JSON.parse(delivery.body));
    }
    const last = deliveries[2];
    // A tampered body or a secret the worker does not hold does not verify.
    expect(() => verify(SECRET, last.body.replace('succeeded', 'failed'), last.headers)).toThrow(
      'No matching signature found',
    );
    const stranger = `whsec_${Buffer.from('not-a-secret-of-this-worker-at-all').toString('base64')}`;
    expect(() => verify(stranger, last.body, last.headers)).toThrow('No matching signature found');
    // One event, one webhook-id on every try (the outbox row's id): receivers de-duplicate on it.
    const event = await settledEvent(id);
    expect(event).toMatchObject({
      type: 'task.succeeded',
      status: 'delivered',
      attempts: 3,
      last_error: null,
    });
    expect(event.delivered_at).toBeInstanceOf(Date);
    expect(deliveries.map((d) => d.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);

    const sent = JSON.parse(last.body);
    expect(sent).toMatchObject({
      id: last.headers['webhook-id'],
      type: 'task.succeeded',
      task: { id, status: 'succeeded', persona_id: persona, attempts: 1, last_error: null },
    });
    expect(sent.task.post.hook).toContain('webhooks');
    const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [id]);
    expect(rows[0].status).toBe('succeeded');
  });

  it('POSTs task.failed with the reason when a task fails', async () => {
    await sim.setKnobs({ errorRate: 1, errorStatus: [400] });
    const id = await createTask(api.url, {
      persona_id: persona,
      topic: 'doomed',
      callback_url: receiver.url,
    });
    await waitForStatus(pool, id, ['failed']);
    const [delivery] = await eventually(async () => {
      const d = deliveriesFor(id);
      return d.length > 0 ? d : undefined;
    }, 10000);
    const event = JSON.parse(delivery.body);
    expect(event).toMatchObject({
      type: 'task.failed',
      task: { id, status: 'failed', attempts: 1, post: null },
    });
    expect(event.task.last_error).toMatch(/^LLM responded 400/);
    expect(await settledEvent(id)).toMatchObject({ type: 'task.failed', status: 'delivered', attempts: 1 });
  });

  it('POSTs task.cancelled for a task cancelled while queued, verified as a receiver does', async () => {
    // No worker consumes this prefix, so the task is surely still queued when it is cancelled;
    // the event is dispatched from the outbox by the worker, whatever the prefix.
    const idleApi = await startOrchestrator(env({ QUEUE_PREFIX: 'test-webhooks-idle' }));
    try {
      const id = await createTask(idleApi.url, {
        persona_id: persona,
        topic: 'never mind',
        callback_url: receiver.url,
      });
      const cancelled = await request(idleApi.url, 'POST', `/v1/tasks/${id}/cancel`);
      expect(cancelled.status).toBe(200);
      const [delivery] = await eventually(async () => {
        const d = deliveriesFor(id);
        return d.length > 0 ? d : undefined;
      }, 10000);
      const verified = new Webhook(SECRET).verify(delivery.body, delivery.headers as Record<string, string>);
      expect(verified).toMatchObject({
        id: delivery.headers['webhook-id'],
        type: 'task.cancelled',
        task: { id, status: 'cancelled', post: null, callback_url: receiver.url },
      });
      const event = await settledEvent(id);
      expect(event).toMatchObject({ id: delivery.headers['webhook-id'], status: 'delivered', attempts: 1 });
      expect(deliveriesFor(id)).toHaveLength(1);
    } finally {
      await idleApi.close();
    }
  });

  it('a webhook that keeps failing is given up and kept as failed; the task still succeeded', async () => {
    receiver.failNext(100, 500);
    try {
      const id = await createTask(api.url, {
        persona_id: persona,
        topic: 'receiver down',
        callback_url: receiver.url,
      });
      await waitForStatus(pool, id, ['succeeded']);
      const webhooks = worker.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
      const job = await eventually(async () => {
        const failed = await webhooks.getFailed();
        return failed.find((j) => j.data.taskId === id);
      }, 10000);
      expect(job.attemptsMade).toBe(4);
      expect(job.failedReason).toBe('callback answered 500');
      expect(deliveriesFor(id)).toHaveLength(4);
      expect(await settledEvent(id)).toMatchObject({
        status: 'dead',
        attempts: 4,
        last_error: 'callback answered 500',
        delivered_at: null,
      });
      const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [id]);
      expect(rows[0].status).toBe('succeeded');
    } finally {
      receiver.failNext(0);
    }
  });

  describe("while the dispatcher's Redis is down", () => {
    let redis: PrivateRedis;
    let outageWorker: RunningApp;
    beforeAll(async () => {
      await stopMainWorker();
      // A port of this checkout's own range (its shared Redis port + 100).
      const shared = Number((process.env.TEST_REDIS_HOSTPORT ?? '127.0.0.1:6379').split(':')[1]);
      redis = await startPrivateRedis({ port: shared + 100 });
      outageWorker = await startWorker(
        env({ REDIS_URL: redis.url, QUEUE_PREFIX: 'test-webhooks-outage', LLM_PROVIDER: 'builtin' }),
      );
    });
    afterAll(async () => {
      await redis.start();
      await outageWorker.close();
      await redis.close();
    });

    it('the event stays pending, and is delivered exactly once after Redis is back', async () => {
      const idleApi = await startOrchestrator(env({ QUEUE_PREFIX: 'test-webhooks-idle' }));
      try {
        const id = await createTask(idleApi.url, {
          persona_id: persona,
          topic: 'outage',
          callback_url: receiver.url,
        });
        const queueErrors = async () =>
          metricValue(await scrape(outageWorker.url), 'webhook_dispatches_total', { outcome: 'queue_error' });
        const before = await queueErrors();
        await redis.stop();
        expect((await request(idleApi.url, 'POST', `/v1/tasks/${id}/cancel`)).status).toBe(200);

        // The dispatcher claimed it and could not queue it (more than once: it keeps trying).
        await eventually(async () => ((await queueErrors()) >= before + 2 ? true : undefined), 15000);
        expect(await eventsOf(id)).toEqual([expect.objectContaining({ status: 'pending', attempts: 0 })]);
        expect(deliveriesFor(id)).toHaveLength(0);

        await redis.start();
        const event = await settledEvent(id);
        expect(event).toMatchObject({ type: 'task.cancelled', status: 'delivered', attempts: 1 });
        const deliveries = deliveriesFor(id);
        expect(deliveries).toHaveLength(1);
        expect(deliveries[0].headers['webhook-id']).toBe(event.id);
        // Every add made during the outage named the same job: the queue holds it once.
        const webhooks = outageWorker.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
        const completed = (await webhooks.getCompleted()).filter((j) => j.data.taskId === id);
        expect(completed.map((j) => j.id)).toEqual([event.id]);
      } finally {
        await idleApi.close();
      }
    });
  });

  describe('with private addresses not allowed (the default)', () => {
    let strictWorker: RunningApp;
    beforeAll(async () => {
      await stopMainWorker();
      strictWorker = await startWorker(
        env({
          LLM_PROVIDER: 'builtin',
          WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false',
          QUEUE_PREFIX: 'test-webhooks-strict',
        }),
      );
    });
    afterAll(async () => {
      await strictWorker.close();
    });

    it('refuses to deliver to a loopback address: no request is made, the task still succeeds', async () => {
      const strictApi = await startOrchestrator(env({ QUEUE_PREFIX: 'test-webhooks-strict' }));
      try {
        const id = await createTask(strictApi.url, {
          persona_id: persona,
          topic: 'ssrf',
          callback_url: receiver.url,
        });
        await waitForStatus(pool, id, ['succeeded']);
        const webhooks = strictWorker.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
        const job = await eventually(
          async () => (await webhooks.getFailed()).find((j) => j.data.taskId === id),
          10000,
        );
        expect(job.attemptsMade).toBe(1); // permanent: not retried
        expect(job.failedReason).toMatch(
          /internal address 127\.0\.0\.1; set WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true/,
        );
        expect(deliveriesFor(id)).toHaveLength(0);
        expect(await settledEvent(id)).toMatchObject({ status: 'dead', attempts: 1 });
      } finally {
        await strictApi.close();
      }
    });
  });
});
