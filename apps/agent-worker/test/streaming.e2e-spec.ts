import {
  applyDelta,
  isStatusMessage,
  taskDeltasStream,
  type TaskDeltaMessage,
  type TaskStreamMessage,
} from '@app/platform';
import Redis from 'ioredis';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { testEnvVars } from '../../../test/support/test-env';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';
import { createTask, waitForStatus } from '../../../test/support/tasks';

interface StatusJson {
  status: string;
  updated_at: string;
}

/** Every message published for the queue prefix, by task id: the deltas, and the status changes. */
async function listenForDeltas(prefix: string): Promise<{
  all(taskId: string): TaskStreamMessage<StatusJson>[];
  of(taskId: string): TaskDeltaMessage[];
  statuses(taskId: string): StatusJson[];
  close(): Promise<void>;
}> {
  const sub = new Redis(testEnvVars().REDIS_URL);
  const byTask = new Map<string, TaskStreamMessage<StatusJson>[]>();
  sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
    const taskId = channel.slice(channel.lastIndexOf(':') + 1);
    byTask.set(taskId, [...(byTask.get(taskId) ?? []), JSON.parse(message) as TaskStreamMessage<StatusJson>]);
  });
  await sub.psubscribe(`${prefix}:task-deltas:*`);
  const all = (taskId: string) => byTask.get(taskId) ?? [];
  return {
    all,
    of: (taskId) => all(taskId).filter((m): m is TaskDeltaMessage => !isStatusMessage(m)),
    statuses: (taskId) => all(taskId).flatMap((m) => (isStatusMessage(m) ? [m.task] : [])),
    close: async () => void (await sub.quit()),
  };
}

/** What a live view shows after these messages: a new run starts over; offsets place each piece. */
function view(messages: TaskDeltaMessage[]): { hook: string; body: string; runs: string[] } {
  const shown = { hook: '', body: '' };
  const runs: string[] = [];
  for (const m of messages) {
    if (m.run !== runs.at(-1)) {
      runs.push(m.run);
      shown.hook = '';
      shown.body = '';
    }
    shown[m.field] = applyDelta(shown[m.field], m);
  }
  return { ...shown, runs };
}

describe('streamed answers: the openai provider streams, the worker relays deltas through Redis', () => {
  let sim: RunningSim;
  let api: RunningApp;
  let pool: Pool;
  let persona: string;
  let redis: Redis;

  beforeAll(async () => {
    sim = await startLlmSim({ streamChunkMs: 3 });
    pool = testPool();
    persona = await createPersona(pool, 'streaming');
    redis = new Redis(testEnvVars().REDIS_URL);
  });
  afterAll(async () => {
    await sim.close();
    await pool.end();
    await redis.quit();
  });

  describe('a healthy stream', () => {
    const prefix = 'test-stream';
    let worker: RunningApp;
    let deltas: Awaited<ReturnType<typeof listenForDeltas>>;
    beforeAll(async () => {
      const env = {
        QUEUE_PREFIX: prefix,
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: sim.baseUrl,
        WORKER_DELTA_FLUSH_MS: '0',
        WORKER_DELTA_REPLAY_TTL_S: '30',
      };
      api = await startOrchestrator(env);
      worker = await startWorker(env);
      deltas = await listenForDeltas(prefix);
    });
    afterAll(async () => {
      await deltas.close();
      await worker.close();
      await api.close();
    });

    it('publishes the hook and the body piece by piece; they add up exactly to the post, and the replay stream holds the same', async () => {
      const id = await createTask(api.url, {
        persona_id: persona,
        topic: 'live output',
        pain_statement: 'Waiting',
      });
      await waitForStatus(pool, id, ['succeeded']);
      const task = (await request(api.url, 'GET', `/v1/tasks/${id}`)).body;
      const { post } = task;
      // The status changes travel on the same channel: running, then the task exactly as GET shows it.
      await eventually(async () => (deltas.statuses(id).length >= 2 ? true : undefined), 5000, 20);
      const statuses = [...deltas.statuses(id)].sort((a, b) => a.updated_at.localeCompare(b.updated_at));
      expect(statuses.map((t) => t.status)).toEqual(['running', 'succeeded']);
      expect(statuses[1]).toEqual(task);

      const messages = deltas.of(id);
      const shown = view(messages);
      expect(shown.body).toBe(post.body);
      expect(shown.hook).toBe(post.hook);
      expect(shown.runs).toHaveLength(1);
      // Streamed, not one message per answer: many pieces, in order, each after the last.
      const body = messages.filter((m) => m.field === 'body');
      expect(body.length).toBeGreaterThan(5);
      expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i + 1));
      expect(messages.findIndex((m) => m.field === 'body')).toBe(
        messages.filter((m) => m.field === 'hook').length,
      );
      for (const [i, m] of body.entries())
        if (i > 0) expect(m.offset).toBe(body[i - 1].offset + body[i - 1].text.length);

      // The replay buffer: the same messages under the same ids, expiring.
      const stream = taskDeltasStream(prefix, id);
      const entries = await redis.xrange(stream, '-', '+');
      expect(entries.map(([entryId, fields]) => ({ id: entryId, ...JSON.parse(fields[1]) }))).toEqual(
        deltas.all(id),
      );
      // Resuming after a Last-Event-ID: the entries after it, no repeats.
      const lastSeen = messages[3].id;
      const rest = await redis.xrange(stream, `(${lastSeen}`, '+');
      const all = deltas.all(id);
      expect(rest.map(([entryId]) => entryId)).toEqual(
        all.slice(all.findIndex((m) => m.id === lastSeen) + 1).map((m) => m.id),
      );
      const ttl = await redis.pttl(stream);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30000);
    });

    it('asks llm-sim for a stream with the usage, and records the usage on the task, the post and the metrics', async () => {
      const before = await scrape(worker.url);
      const id = await createTask(api.url, { persona_id: persona, topic: 'usage please' });
      await waitForStatus(pool, id, ['succeeded']);
      const task = (await request(api.url, 'GET', `/v1/tasks/${id}`)).body;
      const { usage, post } = task;
      expect(usage).toEqual({
        model: post.model,
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
      });
      expect(usage.prompt_tokens).toBeGreaterThan(20);
      expect(usage.completion_tokens).toBeGreaterThan(5);
      expect(usage.prompt_tokens + usage.completion_tokens).toBe(post.tokens_used);

      const after = await scrape(worker.url);
      const counted = (text: string, kind: string) =>
        metricValue(text, 'llm_tokens_total', { model: post.model, kind });
      expect(counted(after, 'prompt') - counted(before, 'prompt')).toBe(usage.prompt_tokens);
      expect(counted(after, 'completion') - counted(before, 'completion')).toBe(usage.completion_tokens);
    });
  });

  describe('a stream that breaks mid-way', () => {
    const prefix = 'test-stream-broken';
    let worker: RunningApp;
    let deltas: Awaited<ReturnType<typeof listenForDeltas>>;
    beforeAll(async () => {
      const env = {
        QUEUE_PREFIX: prefix,
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: sim.baseUrl,
        WORKER_DELTA_FLUSH_MS: '0',
        // A broken stream fails the attempt at once: the next run of the job streams again.
        LLM_MAX_RETRIES: '0',
        WORKER_BACKOFF_BASE_MS: '20',
        WORKER_BACKOFF_MAX_MS: '100',
      };
      api = await startOrchestrator(env);
      worker = await startWorker(env);
      deltas = await listenForDeltas(prefix);
    });
    afterAll(async () => {
      await sim.setKnobs({ streamBreakRate: 0 });
      await deltas.close();
      await worker.close();
      await api.close();
    });

    it('is a failure for the breaker and the retries; the deltas of the failed run are void, the next run streams the post', async () => {
      await sim.resetStats();
      await sim.setKnobs({ streamBreakRate: 1 });
      const id = await createTask(api.url, { persona_id: persona, topic: 'broken pipes' });
      // Let the first call break, then heal the stream.
      await eventually(async () => ((await sim.stats()).byOutcome.broken >= 1 ? true : undefined), 15000, 20);
      await sim.setKnobs({ streamBreakRate: 0 });
      const done = await waitForStatus(pool, id, ['succeeded', 'failed'], 30000);
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBeGreaterThanOrEqual(2);
      const post = (await request(api.url, 'GET', `/v1/tasks/${id}`)).body.post;

      const messages = deltas.of(id);
      const shown = view(messages);
      expect(shown.runs.length).toBeGreaterThanOrEqual(2);
      expect(shown.hook).toBe(post.hook);
      expect(shown.body).toBe(post.body);
      // The broken run showed part of an answer before it broke.
      expect(messages.filter((m) => m.run === shown.runs[0]).length).toBeGreaterThan(0);

      const metrics = await scrape(worker.url);
      expect(
        metricValue(metrics, 'circuit_breaker_events_total', { event: 'failure' }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        metricValue(metrics, 'agent_task_attempts_total', { result: 'transient_error' }),
      ).toBeGreaterThanOrEqual(1);
      expect((await sim.stats()).byOutcome.broken).toBeGreaterThanOrEqual(1);
    });
  });
});
