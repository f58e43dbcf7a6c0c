import { newId } from '@app/platform';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { createPersona, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { openSse, type SseEvent, type SseStream } from '../../../test/support/sse';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';
import { createTask, waitForStatus } from '../../../test/support/tasks';

interface Delta {
  field: 'hook' | 'body';
  text: string;
  offset: number;
}

const deltas = (events: SseEvent[], field: Delta['field']): Delta[] =>
  events
    .filter((e) => e.event === 'delta')
    .map((e) => JSON.parse(e.data) as Delta)
    .filter((d) => d.field === field);
const joined = (events: SseEvent[], field: Delta['field']) =>
  deltas(events, field)
    .map((d) => d.text)
    .join('');
const statuses = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as { status: string });

describe('GET /v1/tasks/:id/events: status changes and the streamed output as server-sent events', () => {
  let sim: RunningSim;
  let pool: Pool;
  let persona: string;
  const open: SseStream[] = [];
  const follow = async (base: string, id: string, headers: Record<string, string> = {}) => {
    const stream = await openSse(`${base}/v1/tasks/${id}/events`, headers);
    open.push(stream);
    return stream;
  };

  beforeAll(async () => {
    sim = await startLlmSim({ streamChunkMs: 5 });
    pool = testPool();
    persona = await createPersona(pool, 'events');
  });
  afterEach(() => {
    for (const stream of open.splice(0)) stream.close();
  });
  afterAll(async () => {
    await sim.close();
    await pool.end();
  });

  describe('with a worker streaming from llm-sim', () => {
    let api: RunningApp;
    let worker: RunningApp;
    beforeAll(async () => {
      const env = {
        QUEUE_PREFIX: 'test-events',
        LLM_PROVIDER: 'openai',
        LLM_BASE_URL: sim.baseUrl,
        LLM_STREAM: 'true',
        WORKER_DELTA_FLUSH_MS: '0',
        WORKER_DELTA_REPLAY_TTL_S: '60',
      };
      api = await startOrchestrator(env);
      worker = await startWorker(env);
    });
    afterAll(async () => {
      await worker.close();
      await api.close();
    });

    it('sends the status first, the deltas as they come, and ends after the terminal status; the body deltas add up to the post', async () => {
      const id = await createTask(api.url, { persona_id: persona, topic: 'live events' });
      const stream = await follow(api.url, id);
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.headers.get('cache-control')).toBe('no-cache');
      expect(stream.headers.get('x-accel-buffering')).toBe('no');
      await stream.ended;

      const { events } = stream;
      const task = (await request(api.url, 'GET', `/v1/tasks/${id}`)).body;
      expect(events[0].event).toBe('status');
      expect(events.every((e) => typeof e.id === 'string' && e.id !== '')).toBe(true);
      const last = events.at(-1)!;
      expect(last.event).toBe('status');
      expect(JSON.parse(last.data)).toEqual(task);
      expect(task.status).toBe('succeeded');
      expect(statuses(events).map((s) => s.status)).toContain('succeeded');
      // Streamed piece by piece, and exactly the post once joined.
      expect(deltas(events, 'body').length).toBeGreaterThan(5);
      expect(joined(events, 'body')).toBe(task.post.body);
      expect(joined(events, 'hook')).toBe(task.post.hook);
    });

    it('resumes after Last-Event-ID without repeating a delta; after the end, a reconnect gets the terminal status again', async () => {
      await sim.setKnobs({ streamChunkMs: 20 });
      try {
        const id = await createTask(api.url, { persona_id: persona, topic: 'resume me' });
        const first = await follow(api.url, id);
        await first.waitFor((e) => e.event === 'delta' && JSON.parse(e.data).field === 'body', 20000);
        first.close();
        const seen = [...first.events];
        const lastId = seen.at(-1)!.id!;

        const second = await follow(api.url, id, { 'last-event-id': lastId });
        await second.ended;
        const task = (await request(api.url, 'GET', `/v1/tasks/${id}`)).body;
        expect(task.status).toBe('succeeded');
        const seenIds = new Set(seen.map((e) => e.id));
        for (const e of second.events.filter((x) => x.event === 'delta'))
          expect(seenIds.has(e.id)).toBe(false);
        expect(joined(seen, 'body') + joined(second.events, 'body')).toBe(task.post.body);
        expect(JSON.parse(second.events.at(-1)!.data)).toEqual(task);

        const third = await follow(api.url, id, { 'last-event-id': second.events.at(-1)!.id! });
        await third.ended;
        expect(third.events).toEqual([
          { id: second.events.at(-1)!.id, event: 'status', data: expect.any(String) },
        ]);
        expect(JSON.parse(third.events[0].data)).toEqual(task);
      } finally {
        await sim.setKnobs({ streamChunkMs: 5 });
      }
    });

    it('cancels a running task: the LLM call in flight is aborted within 1 s, the task ends cancelled with no post, and the stream says so', async () => {
      await sim.setKnobs({ latencyMs: 30000 });
      try {
        const id = await createTask(api.url, { persona_id: persona, topic: 'slow model' });
        const stream = await follow(api.url, id);
        await waitForStatus(pool, id, ['running']);
        await eventually(
          async () => (metricValue(await scrape(worker.url), 'llm_calls_in_flight') >= 1 ? true : undefined),
          10000,
          20,
        );
        const skippedBefore = metricValue(await scrape(worker.url), 'agent_tasks_completed_total', {
          status: 'skipped',
        });

        const cancelled = await request(api.url, 'POST', `/v1/tasks/${id}/cancel`);
        const cancelledAt = Date.now();
        expect(cancelled.status).toBe(200);
        expect(cancelled.body).toMatchObject({ id, status: 'cancelled', post: null, usage: null });
        await eventually(
          async () => {
            const metrics = await scrape(worker.url);
            return metricValue(metrics, 'llm_calls_in_flight') === 0 &&
              metricValue(metrics, 'agent_tasks_completed_total', { status: 'skipped' }) > skippedBefore
              ? true
              : undefined;
          },
          1000,
          10,
        );
        expect(Date.now() - cancelledAt).toBeLessThan(1000);

        await stream.ended;
        const last = stream.events.at(-1)!;
        expect(last.event).toBe('status');
        expect(JSON.parse(last.data)).toEqual(cancelled.body);
        const { rows } = await pool.query('SELECT count(*)::int AS n FROM posts WHERE task_id = $1', [id]);
        expect(rows[0].n).toBe(0);
        expect((await request(api.url, 'GET', `/v1/tasks/${id}`)).body).toEqual(cancelled.body);
        // A breaker failure it is not.
        expect(
          metricValue(await scrape(worker.url), 'circuit_breaker_events_total', { event: 'failure' }),
        ).toBe(0);

        const again = await request(api.url, 'POST', `/v1/tasks/${id}/cancel`);
        expect(again.status).toBe(409);
        expect(again.body.message).toBe(
          `Task ${id} is cancelled; only a queued or running task can be cancelled`,
        );
      } finally {
        await sim.setKnobs({ latencyMs: 0 });
      }
    });

    it('answers 404, as JSON, for a task that does not exist', async () => {
      const missing = newId();
      const stream = await follow(api.url, missing);
      expect(stream.status).toBe(404);
      expect(JSON.parse(stream.text).message).toContain(missing);
    });
  });

  describe('without a worker (the task stays queued)', () => {
    let api: RunningApp;
    beforeEach(async () => {
      api = await startOrchestrator({
        QUEUE_PREFIX: 'test-events-idle',
        LONG_POLL_MAX_WAITERS: '2',
        TASK_EVENTS_HEARTBEAT_MS: '200',
      });
    });
    afterEach(async () => {
      for (const stream of open.splice(0)) stream.close();
      await api.close();
    });

    it('sends heartbeats while nothing happens, and the cancelled status when the task is cancelled', async () => {
      const id = await createTask(api.url, { persona_id: persona, topic: 'never runs' });
      const stream = await follow(api.url, id);
      await stream.waitFor((e) => e.event === 'status');
      expect(statuses(stream.events).map((s) => s.status)).toEqual(['queued']);
      const deadline = Date.now() + 5000;
      while (stream.comments.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(stream.comments.slice(0, 2)).toEqual(['heartbeat', 'heartbeat']);

      const cancelled = await request(api.url, 'POST', `/v1/tasks/${id}/cancel`);
      expect(cancelled.status).toBe(200);
      await stream.ended;
      expect(statuses(stream.events).map((s) => s.status)).toEqual(['queued', 'cancelled']);
      expect(JSON.parse(stream.events.at(-1)!.data)).toEqual(cancelled.body);
    });

    it('counts streams against LONG_POLL_MAX_WAITERS: beyond it, 503 with Retry-After, and the place comes back when a stream ends', async () => {
      const ids = [
        await createTask(api.url, { persona_id: persona, topic: 'one' }),
        await createTask(api.url, { persona_id: persona, topic: 'two' }),
      ];
      const held = await Promise.all(ids.map((id) => follow(api.url, id)));
      expect(held.map((s) => s.status)).toEqual([200, 200]);

      const refused = await follow(api.url, ids[0]);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(JSON.parse(refused.text).message).toContain('maximum of 2 waiting requests');
      const poll = await request(api.url, 'GET', `/v1/tasks/${ids[0]}?wait=1`);
      expect(poll.status).toBe(503);

      held[0].close();
      await held[0].ended;
      const deadline = Date.now() + 5000;
      let again: SseStream | null = null;
      while (Date.now() < deadline) {
        again = await follow(api.url, ids[0]);
        if (again.status === 200) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(again?.status).toBe(200);
    });
  });
});
