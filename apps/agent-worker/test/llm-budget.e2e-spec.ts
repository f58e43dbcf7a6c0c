import { Registry } from 'prom-client';
import { AppConfig } from '@app/platform';
import { testConfig } from '../../../test/support/test-env';
import { LlmBudget } from '../src/llm/llm-budget';
import { LlmBudgetDeferral } from '../src/llm/llm.errors';

/**
 * The shared budget's Lua script on the real test Redis: two LlmBudget instances stand for two
 * worker replicas calling the same endpoint. Assertions use the times Redis handed out, not
 * timers, so a busy box cannot make them flaky.
 */
describe('LlmBudget: one provider budget in Redis for every worker', () => {
  const budgets: LlmBudget[] = [];
  let endpoint = '';
  const replica = (env: Record<string, string>) => {
    const budget = new LlmBudget(new AppConfig(testConfig(env)), endpoint, new Registry());
    budgets.push(budget);
    return budget;
  };
  beforeEach(() => {
    endpoint = `http://budget.test/${Date.now()}-${Math.random()}`;
  });
  afterEach(async () => {
    for (const b of budgets.splice(0)) await b.onApplicationShutdown();
  });

  it('spaces the calls of all replicas evenly at the budget rate, with no burst', async () => {
    const env = { LLM_MAX_REQUESTS_PER_MINUTE: '600' }; // one call every 100 ms
    const [a, b] = [replica(env), replica(env)];
    // Both connections up first, so that the eight calls below meet a schedule already ahead of now.
    await Promise.all([a.acquire(10), b.acquire(10)]);
    const reservations = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).acquire(10)));
    const times = reservations.map((r) => r.at as number).sort((x, y) => x - y);
    expect(times.slice(1).map((t, i) => t - times[i])).toEqual(Array(7).fill(100));
    expect(Math.max(...reservations.map((r) => r.waitMs))).toBeGreaterThanOrEqual(700);
  });

  it('a 429 seen by one replica pauses the calls of every replica until its Retry-After', async () => {
    const env = { LLM_MAX_REQUESTS_PER_MINUTE: '60000' };
    const [a, b] = [replica(env), replica(env)];
    const first = await b.acquire(10);
    await a.rateLimited(2000);
    const next = await b.acquire(10);
    expect((next.at as number) - (first.at as number)).toBeGreaterThanOrEqual(2000);
  });

  it('reserves prompt + max_tokens and gives back what the answer did not use', async () => {
    const env = { LLM_MAX_TOKENS_PER_MINUTE: '60000' }; // 1 ms a token
    const [a, b] = [replica(env), replica(env)];
    const first = await a.acquire(1000);
    // Fire-and-forget, but sent before the next reservation on the same connection, so Redis runs it first.
    first.settle(200);
    const second = await a.acquire(1000);
    expect((second.at as number) - (first.at as number)).toBe(200);
    const third = await b.acquire(1000);
    expect((third.at as number) - (second.at as number)).toBe(1000);
  });

  it('a call that would wait longer than LLM_BUDGET_MAX_WAIT_MS reserves nothing and defers, unless told to wait', async () => {
    const env = { LLM_MAX_REQUESTS_PER_MINUTE: '60', LLM_BUDGET_MAX_WAIT_MS: '500' }; // one a second
    const a = replica(env);
    const first = await a.acquire(10);
    const err = await a.acquire(10).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LlmBudgetDeferral);
    expect((err as LlmBudgetDeferral).delayMs).toBeGreaterThan(500);
    expect((err as LlmBudgetDeferral).delayMs).toBeLessThanOrEqual(1000);
    // Nothing was reserved by the deferred call: a patient caller gets the next slot, one second on.
    const patient = await a.acquire(10, false);
    expect((patient.at as number) - (first.at as number)).toBe(1000);
  });

  it('without a budget, makes no Redis round trip: calls go at once', async () => {
    const a = replica({});
    expect(a.shared).toBe(false);
    const r = await a.acquire(10);
    expect(r).toMatchObject({ at: null, waitMs: 0 });
  });
});
