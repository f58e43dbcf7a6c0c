import { startWorker, type RunningApp } from '../../../test/support/apps';
import { eventually, request } from '../../../test/support/http';
import type { ChatRequest } from '../src/llm/llm-client';
import { LlmHttpError, LlmTimeoutError, LlmUnavailableError } from '../src/llm/llm.errors';
import { LlmService } from '../src/llm/llm.service';
import { startLlmSim, type RunningSim } from './support/llm-sim';
import { metricValue, scrape } from './support/metrics';

const RESET_MS = 800;
const VOLUME = 4;
const TIMEOUT_MS = 300;
const log = { taskId: 'breaker-test', requestId: null, jobId: 'breaker-test' };

const chat = (key: string): ChatRequest => ({
  model: 'sim-model',
  messages: [{ role: 'user', content: `Write the opening hook.\nTopic: ${key}` }],
  temperature: 0,
  maxTokens: 50,
  idempotencyKey: key,
  requestId: null,
});

/** Runs `fn` and returns its rejection (the test fails if it resolves). */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('LLM circuit breaker (opossum) against llm-sim over HTTP', () => {
  let sim: RunningSim;
  let worker: RunningApp;
  let llm: LlmService;

  beforeAll(async () => {
    sim = await startLlmSim();
  });
  afterAll(async () => {
    await sim.close();
  });

  // A fresh worker per test: breaker state and rolling statistics start empty.
  beforeEach(async () => {
    await sim.setKnobs({ outage: false, errorRate: 0, timeoutRate: 0, rateLimitRate: 0, latencyMs: 0 });
    await sim.resetStats();
    worker = await startWorker({
      QUEUE_PREFIX: 'test-breaker',
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: sim.baseUrl,
      LLM_MAX_RETRIES: '0',
      LLM_BREAKER_TIMEOUT_MS: String(TIMEOUT_MS),
      LLM_BREAKER_VOLUME_THRESHOLD: String(VOLUME),
      LLM_BREAKER_RESET_TIMEOUT_MS: String(RESET_MS),
      LLM_BREAKER_ROLLING_WINDOW_MS: String(RESET_MS),
      LLM_BREAKER_ROLLING_BUCKETS: '4',
    });
    llm = worker.app.get(LlmService);
  });
  afterEach(async () => {
    await worker.close();
  });

  const simRequests = async () => (await sim.stats()).requests;
  const breakerState = async () => {
    const ready = await request(worker.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200); // an open breaker degrades readiness, never fails it
    return ready.body.details.llm;
  };

  it('opens after volumeThreshold failures, fails fast without calling, half-opens after resetTimeout, closes on success', async () => {
    await sim.setKnobs({ outage: true });
    for (let i = 0; i < VOLUME - 1; i++) {
      const err = await rejection(() => llm.complete(chat(`fail-${i}`), log));
      expect(err).toBeInstanceOf(LlmHttpError);
      expect((err as LlmHttpError).status).toBe(503);
    }
    // Below the volume threshold every call failed, and still the breaker stays closed.
    expect(llm.acceptingCalls).toBe(true);
    expect((await breakerState()).degraded).toBe(false);

    await rejection(() => llm.complete(chat('fail-last'), log));
    expect(llm.acceptingCalls).toBe(false);
    const open = await breakerState();
    expect(open.degraded).toBe(true);
    expect(Object.values(open.breakers)).toEqual([expect.objectContaining({ state: 'open' })]);
    expect(await simRequests()).toBe(VOLUME);

    // Open: every call fails fast and nothing reaches the downstream.
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      expect(await rejection(() => llm.complete(chat(`rejected-${i}`), log))).toBeInstanceOf(
        LlmUnavailableError,
      );
    }
    expect(Date.now() - started).toBeLessThan(200);
    expect(await simRequests()).toBe(VOLUME);

    const metrics = await scrape(worker.url);
    expect(metricValue(metrics, 'circuit_breaker_state')).toBe(2);
    expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'open' })).toBe(1);
    expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'reject' })).toBe(10);

    // After resetTimeout: half-open, one trial call allowed; it succeeds and closes the breaker.
    await sim.setKnobs({ outage: false });
    await eventually(
      async () => ((await breakerState()).breakers && llm.acceptingCalls ? true : undefined),
      3000,
      20,
    );
    expect(Object.values((await breakerState()).breakers)).toEqual([
      expect.objectContaining({ state: 'half_open' }),
    ]);
    const reply = await llm.complete(chat('trial'), log);
    expect(reply.text).toContain('trial');
    expect(Object.values((await breakerState()).breakers)).toEqual([
      expect.objectContaining({ state: 'closed' }),
    ]);
    const after = await scrape(worker.url);
    expect(metricValue(after, 'circuit_breaker_state')).toBe(0);
    expect(metricValue(after, 'circuit_breaker_events_total', { event: 'halfOpen' })).toBe(1);
    expect(metricValue(after, 'circuit_breaker_events_total', { event: 'close' })).toBe(1);
    expect(await simRequests()).toBe(VOLUME + 1);
  });

  it('half-open lets exactly one trial through; a failed trial opens the breaker again', async () => {
    await sim.setKnobs({ outage: true });
    for (let i = 0; i < VOLUME; i++) await rejection(() => llm.complete(chat(`fail-${i}`), log));
    expect(llm.acceptingCalls).toBe(false);
    await eventually(async () => (llm.acceptingCalls ? true : undefined), 3000, 20);

    await sim.setKnobs({ latencyMs: 100 });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => llm.complete(chat(`half-${i}`), log)),
    );
    const rejected = results.map((r) => (r.status === 'rejected' ? r.reason : null));
    // Every caller learns "unavailable"; only the trial reached the downstream, and its failure
    // is reported as a deferral (the task's attempt is not spent on confirming an outage).
    expect(rejected.every((e) => e instanceof LlmUnavailableError)).toBe(true);
    expect(rejected.filter((e) => e.cause instanceof LlmHttpError)).toHaveLength(1);
    expect(rejected.find((e) => e.cause)?.message).toMatch(
      /open again: its trial call failed \(LLM responded 503/,
    );
    expect(await simRequests()).toBe(VOLUME + 1);
    expect(llm.acceptingCalls).toBe(false);
  });

  it('a call slower than the timeout is aborted: the downstream sees the client go away', async () => {
    await sim.setKnobs({ timeoutRate: 1 });
    const started = Date.now();
    const err = await rejection(() => llm.complete(chat('slow'), log));
    expect(err).toBeInstanceOf(LlmTimeoutError);
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500);
    const stats = await eventually(async () => {
      const s = await sim.stats();
      return s.aborted === 1 && s.inFlight === 0 ? s : undefined;
    }, 3000);
    expect(stats.recent[0]).toMatchObject({ idempotencyKey: 'slow', outcome: 'timeout', aborted: true });
    const metrics = await scrape(worker.url);
    expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'timeout' })).toBe(1);
  });

  it("4xx answers other than 408/429 are the caller's fault: they never open the breaker", async () => {
    await sim.setKnobs({ errorRate: 1, errorStatus: [400, 404, 422] });
    for (let i = 0; i < VOLUME * 3; i++) {
      const err = await rejection(() => llm.complete(chat(`bad-${i}`), log));
      expect(err).toBeInstanceOf(LlmHttpError);
      expect((err as LlmHttpError).permanent).toBe(true);
    }
    expect(llm.acceptingCalls).toBe(true);
    const metrics = await scrape(worker.url);
    expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'failure' })).toBe(0);
    expect(metricValue(metrics, 'circuit_breaker_events_total', { event: 'success' })).toBe(VOLUME * 3);

    // 408 and 429 say "overloaded, try later": they count, and open it.
    await sim.setKnobs({ errorStatus: [408, 429] });
    for (let i = 0; i < VOLUME; i++) {
      const err = await rejection(() => llm.complete(chat(`busy-${i}`), log));
      expect((err as LlmHttpError).permanent).toBe(false);
    }
    // 12 filtered successes + 4 failures = 25 % < 50 %: still closed; the failure rate has to be real.
    expect(llm.acceptingCalls).toBe(true);
    for (let i = 0; i < VOLUME * 4; i++) await rejection(() => llm.complete(chat(`busy-more-${i}`), log));
    expect(llm.acceptingCalls).toBe(false);
  });
});
