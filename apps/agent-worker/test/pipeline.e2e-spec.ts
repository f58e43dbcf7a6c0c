import { RUN_TASK_JOB, runTaskJobOptions, TASK_QUEUE, type RunTaskJobData } from '@app/platform';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import type { Pool } from 'pg';
import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { countRows, createPersona, insertOrphanTask, testPool } from '../../../test/support/db';
import { eventually, request } from '../../../test/support/http';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';
import { createTask, taskRow, waitForStatus } from '../../../test/support/tasks';

/** The worker's own queue instance (same Redis keys as the orchestrator's). */
const queueOf = (app: RunningApp) => app.app.get<Queue<RunTaskJobData>>(getQueueToken(TASK_QUEUE));

describe('agent pipeline with the openai provider against llm-sim', () => {
  let sim: RunningSim;
  let api: RunningApp;
  let worker: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    sim = await startLlmSim({ latencyMs: 20 });
    const env = {
      QUEUE_PREFIX: 'test-pipeline',
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: sim.baseUrl,
      LLM_MAX_RETRIES: '0',
      // These tests are about attempts, not the breaker: keep it closed.
      LLM_BREAKER_VOLUME_THRESHOLD: '100000',
      WORKER_BACKOFF_BASE_MS: '20',
      WORKER_BACKOFF_MAX_MS: '200',
      WORKER_GUARDRAIL_BLOCKLIST: 'forbidden-word, other term',
    };
    api = await startOrchestrator(env);
    worker = await startWorker(env);
    pool = testPool();
    persona = await createPersona(pool, 'pipeline');
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
    await sim.close();
    await pool.end();
  });
  beforeEach(async () => {
    await sim.setKnobs({ errorRate: 0, rateLimitRate: 0, outage: false, errorStatus: [503] });
  });

  const simCalls = async (taskId: string) =>
    (await sim.stats()).recent.filter((r) => r.idempotencyKey?.startsWith(`${taskId}:`));

  it('writes the post from two downstream calls, each carrying the task id as idempotency key and the request id', async () => {
    const id = await createTask(
      api.url,
      { persona_id: persona, topic: 'queue depth', pain_statement: 'Our jobs pile up at noon' },
      { 'x-request-id': 'pipeline-req-1' },
    );
    const done = await request(api.url, 'GET', `/v1/tasks/${id}?wait=10`);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      last_error: null,
      request_id: 'pipeline-req-1',
    });
    expect(done.body.post).toMatchObject({ model: 'test-model', task_id: id });
    expect(done.body.post.hook).toContain('queue depth');
    expect(done.body.post.body).toContain('Our jobs pile up at noon');
    expect(done.body.post.tokens_used).toBeGreaterThan(20);
    expect(done.body.post.latency_ms).toBeGreaterThanOrEqual(40);

    const calls = await simCalls(id);
    expect(calls.map((c) => [c.idempotencyKey, c.requestId, c.status])).toEqual([
      [`${id}:hook`, 'pipeline-req-1', 200],
      [`${id}:body`, 'pipeline-req-1', 200],
    ]);
  });

  it('a 4xx from the LLM (other than 408/429) fails the task at once: one attempt, no retry, job kept as failed', async () => {
    await sim.setKnobs({ errorRate: 1, errorStatus: [400] });
    const id = await createTask(api.url, { persona_id: persona, topic: 'bad request' });
    const row = await waitForStatus(pool, id, ['failed']);
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/^LLM responded 400: .*simulated error 400/);
    expect(await simCalls(id)).toHaveLength(1);
    expect(await countRows(pool, 'posts', 'task_id = $1', [id])).toBe(0);
    const job = await queueOf(worker).getJob(id);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
  });

  it('a guardrail rejection fails the task at once with the reason, and writes no post', async () => {
    const id = await createTask(api.url, { persona_id: persona, topic: 'the Forbidden-Word strategy' });
    const row = await waitForStatus(pool, id, ['failed']);
    expect(row).toMatchObject({
      attempts: 1,
      last_error: 'guardrail rejected the hook: it contains the blocked term "forbidden-word"',
    });
    expect(await countRows(pool, 'posts', 'task_id = $1', [id])).toBe(0);
    expect((await simCalls(id)).map((c) => c.idempotencyKey)).toEqual([`${id}:hook`]);
  });

  it('a task whose persona is missing fails at once', async () => {
    const id = '01900000-0000-7000-8000-0000000000aa';
    await insertOrphanTask(pool, id, 'ghost-persona', { topic: 'x' });
    try {
      await queueOf(worker).add(RUN_TASK_JOB, { taskId: id, requestId: null }, runTaskJobOptions(id));
      const row = await waitForStatus(pool, id, ['failed']);
      expect(row).toMatchObject({ attempts: 1, last_error: 'persona ghost-persona does not exist' });
      expect(await simCalls(id)).toHaveLength(0);
    } finally {
      await pool.query('DELETE FROM tasks WHERE id = $1', [id]);
    }
  });

  it('transient errors are retried with backoff; after the last attempt the task fails, the job stays as a dead letter, and retry runs it again', async () => {
    await sim.setKnobs({ errorRate: 1, errorStatus: [503] });
    const id = await createTask(api.url, { persona_id: persona, topic: 'flaky downstream' });
    const row = await waitForStatus(pool, id, ['failed']);
    expect(row.attempts).toBe(5);
    expect(row.last_error).toMatch(/^LLM responded 503/);
    expect(await simCalls(id)).toHaveLength(5);
    const job = await queueOf(worker).getJob(id);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(5);
    expect(job?.failedReason).toMatch(/^LLM responded 503/);

    await sim.setKnobs({ errorRate: 0 });
    const retried = await request(api.url, 'POST', `/v1/tasks/${id}/retry`, {
      headers: { 'x-request-id': 'retry-req' },
    });
    expect(retried.status).toBeLessThan(300);
    const done = await waitForStatus(pool, id, ['succeeded']);
    expect(done).toMatchObject({ attempts: 6, last_error: null, request_id: 'retry-req' });
    expect(await countRows(pool, 'posts', 'task_id = $1', [id])).toBe(1);
  });

  it('a 429 is retried no sooner than its Retry-After', async () => {
    await sim.setKnobs({ rateLimitRate: 1, retryAfterS: 1 });
    const id = await createTask(api.url, { persona_id: persona, topic: 'rate limited' });
    await eventually(async () => ((await simCalls(id)).length > 0 ? true : undefined), 5000, 10);
    await sim.setKnobs({ rateLimitRate: 0 });
    const row = await waitForStatus(pool, id, ['succeeded']);
    expect(row.attempts).toBe(2);
    const calls = await simCalls(id);
    expect(calls.map((c) => c.status)).toEqual([429, 200, 200]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1000);
  });

  it('a task cancelled before a worker reaches it is never run and never calls the LLM', async () => {
    const queue = queueOf(api);
    await queue.pause(false);
    let id: string;
    try {
      id = await createTask(api.url, { persona_id: persona, topic: 'cancel me' });
      const cancelled = await request(api.url, 'POST', `/v1/tasks/${id}/cancel`);
      expect(cancelled.body.status).toBe('cancelled');
    } finally {
      await queue.resume(false);
    }
    // Give the worker time to (not) run it.
    await new Promise((r) => setTimeout(r, 300));
    expect(await taskRow(pool, id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    expect(await simCalls(id)).toHaveLength(0);
    expect(await countRows(pool, 'posts', 'task_id = $1', [id])).toBe(0);
  });

  it('exports task outcomes', async () => {
    const metrics = await scrape(worker.url);
    expect(
      metricValue(metrics, 'agent_tasks_completed_total', { status: 'succeeded' }),
    ).toBeGreaterThanOrEqual(3);
    expect(metricValue(metrics, 'agent_tasks_completed_total', { status: 'failed' })).toBeGreaterThanOrEqual(
      4,
    );
    expect(
      metricValue(metrics, 'agent_task_attempts_total', { result: 'permanent_error' }),
    ).toBeGreaterThanOrEqual(3);
    expect(metricValue(metrics, 'agent_task_retries_total')).toBeGreaterThanOrEqual(5);
  });
});

describe('LLM breaker open: jobs are deferred without spending attempts', () => {
  const RESET_MS = 500;
  let sim: RunningSim;
  let api: RunningApp;
  let worker: RunningApp;
  let pool: Pool;
  let persona: string;

  beforeAll(async () => {
    sim = await startLlmSim();
    const env = {
      QUEUE_PREFIX: 'test-deferral',
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: sim.baseUrl,
      LLM_MAX_RETRIES: '0',
      // The first failure opens the breaker, so no job can make a second real call before it is
      // open, however slowly the box creates the tasks.
      LLM_BREAKER_VOLUME_THRESHOLD: '1',
      LLM_BREAKER_RESET_TIMEOUT_MS: String(RESET_MS),
      LLM_BREAKER_ROLLING_WINDOW_MS: String(RESET_MS),
      LLM_BREAKER_ROLLING_BUCKETS: '5',
      WORKER_BACKOFF_BASE_MS: '20',
      WORKER_BACKOFF_MAX_MS: '100',
    };
    api = await startOrchestrator(env);
    worker = await startWorker(env);
    pool = testPool();
    persona = await createPersona(pool, 'deferral');
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
    await sim.close();
    await pool.end();
  });

  it('defers each job well past its attempt limit during an outage, calls the LLM only for half-open trials, then succeeds', async () => {
    await sim.setKnobs({ outage: true });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(await createTask(api.url, { persona_id: persona, topic: `outage ${i}` }));

    // Every job deferred more often than it has attempts (5): had deferrals counted, all would have failed.
    const queue = queueOf(worker);
    await eventually(
      async () => {
        const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
        return jobs.every((j) => (j?.data.breakerDeferrals ?? 0) >= 6) ? true : undefined;
      },
      25000,
      100,
    );
    for (const id of ids) {
      const row = await taskRow(pool, id);
      expect(row.status).toBe('queued');
      expect(row.attempts).toBeLessThanOrEqual(1); // only a call made before the breaker opened
      expect(row.last_error).toMatch(/circuit breaker .* is open/);
    }

    // No hammering: after the opening failures, calls reach the downstream one per reset period.
    const outageCalls = (await sim.stats()).recent.map((r) => r.at);
    const trials = outageCalls.slice(3);
    expect(trials.length).toBeGreaterThan(2);
    for (let i = 1; i < trials.length; i++)
      expect(trials[i] - trials[i - 1]).toBeGreaterThanOrEqual(RESET_MS - 20);
    const metrics = await scrape(worker.url);
    expect(
      metricValue(metrics, 'circuit_breaker_events_total', { event: 'halfOpen' }),
    ).toBeGreaterThanOrEqual(trials.length);
    // The counter moves just after a job's data does: wait for it rather than race it.
    await eventually(async () =>
      metricValue(await scrape(worker.url), 'agent_task_breaker_deferrals_total') >= 18 ? true : undefined,
    );

    await sim.setKnobs({ outage: false });
    for (const id of ids) {
      const row = await waitForStatus(pool, id, ['succeeded'], 10000);
      expect(row.attempts).toBeLessThanOrEqual(2);
      expect(row.last_error).toBeNull();
    }
    expect(await countRows(pool, 'posts', 'task_id = ANY($1)', [ids])).toBe(3);
  });
});
