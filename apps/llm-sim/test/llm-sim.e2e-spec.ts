import type { FastifyInstance } from 'fastify';
import { request } from '../../../test/support/http';
import type { Knobs } from '../src/knobs';
import { buildLlmSim } from '../src/llm-sim';

const BASE_KNOBS: Knobs = {
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  errorStatus: [500],
  timeoutRate: 0,
  outage: false,
  rateLimitRate: 0,
  retryAfterS: 2,
};

const hookPrompt = {
  model: 'sim-1',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Write the opening hook.\nFormat: thread\nPain: Flaky tests\nTopic: CI speed' },
  ],
};

describe('llm-sim', () => {
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    app = buildLlmSim(BASE_KNOBS, 'silent').app;
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    app.server.closeAllConnections();
    await app.close();
  });
  beforeEach(async () => {
    await request(url, 'PATCH', '/admin/knobs', { body: BASE_KNOBS });
    await request(url, 'POST', '/admin/stats/reset');
  });

  const chat = (body: unknown = hookPrompt, headers: Record<string, string> = {}) =>
    request(url, 'POST', '/v1/chat/completions', { body, headers });

  it('answers OpenAI-style, deterministically for the same input', async () => {
    const a = await chat(hookPrompt, { 'idempotency-key': 'k-1', 'x-request-id': 'r-1' });
    const b = await chat(hookPrompt);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      object: 'chat.completion',
      model: 'sim-1',
      choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }],
    });
    expect(a.body.choices[0].message.content).toContain('CI speed');
    expect(a.body.usage.total_tokens).toBe(a.body.usage.prompt_tokens + a.body.usage.completion_tokens);
    expect(b.body.id).toBe(a.body.id);
    expect(b.body.choices).toEqual(a.body.choices);

    const other = await chat({ ...hookPrompt, model: 'sim-2' });
    expect(other.body.id).not.toBe(a.body.id);

    const stats = (await request(url, 'GET', '/admin/stats')).body;
    expect(stats).toMatchObject({ requests: 3, inFlight: 0, byOutcome: { ok: 3 } });
    expect(stats.recent[0]).toMatchObject({
      idempotencyKey: 'k-1',
      requestId: 'r-1',
      outcome: 'ok',
      status: 200,
    });
  });

  it('writes a body (numbered for a thread) when the prompt carries the hook', async () => {
    const res = await chat({
      model: 'sim-1',
      messages: [
        {
          role: 'user',
          content: 'Write the body.\nFormat: thread\nHook: Hi\nPain: Flaky tests\nTopic: CI speed',
        },
      ],
    });
    expect(res.body.choices[0].message.content).toMatch(/^1\/3 The problem: Flaky tests\n\n2\/3 /);
  });

  it('rejects a request without model or messages with an OpenAI error body', async () => {
    const res = await chat({ model: 'sim-1', messages: [] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(res.body.error.message).toMatch(/messages/);
  });

  it('simulates a full outage, error statuses and 429 with Retry-After', async () => {
    await request(url, 'PATCH', '/admin/knobs', { body: { outage: true } });
    expect((await chat()).status).toBe(503);

    await request(url, 'PATCH', '/admin/knobs', {
      body: { outage: false, errorRate: 1, errorStatus: [502] },
    });
    const error = await chat();
    expect(error.status).toBe(502);
    expect(error.body.error.type).toBe('server_error');

    await request(url, 'PATCH', '/admin/knobs', { body: { errorRate: 0, rateLimitRate: 1 } });
    const limited = await chat();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');

    const stats = (await request(url, 'GET', '/admin/stats')).body;
    expect(stats.byOutcome).toMatchObject({ outage: 1, error: 1, rate_limited: 1, ok: 0 });
  });

  it('adds latency, and holds "timeout" requests until the client gives up', async () => {
    await request(url, 'PATCH', '/admin/knobs', { body: { latencyMs: 150 } });
    const slow = await chat();
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(150);

    await request(url, 'PATCH', '/admin/knobs', { body: { latencyMs: 0, timeoutRate: 1 } });
    await expect(
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(hookPrompt),
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 100));
    const stats = (await request(url, 'GET', '/admin/stats')).body;
    expect(stats).toMatchObject({ aborted: 1, inFlight: 0, byOutcome: { timeout: 1 } });
  });

  it('validates knob changes, naming the field', async () => {
    const unknown = await request(url, 'PATCH', '/admin/knobs', { body: { errorRat: 0.5 } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.details)).toMatch(/errorRat/);
    const range = await request(url, 'PATCH', '/admin/knobs', { body: { errorRate: 2 } });
    expect(range.status).toBe(400);
    expect(range.body.details[0].field).toBe('errorRate');
    expect((await request(url, 'GET', '/admin/knobs')).body).toEqual(BASE_KNOBS);

    const ok = await request(url, 'PATCH', '/admin/knobs', { body: { errorRate: 0.25, jitterMs: 10 } });
    expect(ok.body).toEqual({ ...BASE_KNOBS, errorRate: 0.25, jitterMs: 10 });
  });

  it('answers /health/live', async () => {
    expect((await request(url, 'GET', '/health/live')).body).toEqual({ status: 'ok' });
  });
});
