import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually } from '../../../test/support/http';
import { WEBHOOK_QUEUE } from '@app/platform';
import { Webhook } from 'standardwebhooks';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { createTask, waitForStatus } from './support/tasks';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

// Two secrets, as during a rotation: receivers holding either one verify every delivery.
const SECRET = `whsec_${Buffer.from('test-webhook-secret-0123456789-current').toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.from('test-webhook-secret-0123456789-retiring').toString('base64')}`;

describe('task webhooks', () => {
  let receiver: WebhookReceiver;
  let sim: RunningSim;
  let api: RunningApp;
  let worker: RunningApp;
  let pool: Pool;
  let persona: string;

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
    pool = testPool();
    persona = await createPersona(pool, 'webhooks');
  });
  afterAll(async () => {
    await worker.close();
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
    // One event, one webhook-id on every try: receivers de-duplicate on it.
    const { rows: finished } = await pool.query('SELECT finished_at FROM tasks WHERE id = $1', [id]);
    const eventId = `${id}:succeeded:${(finished[0].finished_at as Date).getTime()}`;
    expect(deliveries.map((d) => d.headers['webhook-id'])).toEqual([eventId, eventId, eventId]);

    const event = JSON.parse(last.body);
    expect(event).toMatchObject({
      id: last.headers['webhook-id'],
      type: 'task.succeeded',
      task: { id, status: 'succeeded', persona_id: persona, attempts: 1, last_error: null },
    });
    expect(event.task.post.hook).toContain('webhooks');
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
      const { rows } = await pool.query('SELECT status FROM tasks WHERE id = $1', [id]);
      expect(rows[0].status).toBe('succeeded');
    } finally {
      receiver.failNext(0);
    }
  });

  describe('with private addresses not allowed (the default)', () => {
    let strictWorker: RunningApp;
    // Its own queue prefix: the outer worker never sees these jobs.
    beforeAll(async () => {
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
      } finally {
        await strictApi.close();
      }
    });
  });
});
