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
  rpmLimit: 0,
  streamChunkMs: 0,
  streamBreakRate: 0,
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

  describe('streaming (stream: true)', () => {
    /** The raw event stream, and whether the connection ended cleanly. */
    const stream = async (body: Record<string, unknown>) => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...hookPrompt, stream: true, ...body }),
      });
      // Read chunk by chunk, keeping what arrived before a break.
      let text = '';
      let broken = false;
      const decoder = new TextDecoder();
      try {
        for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
          text += decoder.decode(part, { stream: true });
        }
      } catch {
        broken = true;
      }
      const events = text
        .split('\n\n')
        .filter((e) => e.startsWith('data: '))
        .map((e) => e.slice('data: '.length));
      return { res, events, broken };
    };
    const content = (events: string[]) =>
      events
        .filter((e) => e !== '[DONE]')
        .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '')
        .join('');

    it('sends the same answer as chunks, the usage last when asked for, then [DONE]', async () => {
      const plain = await chat();
      const { res, events, broken } = await stream({ stream_options: { include_usage: true } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(broken).toBe(false);
      expect(events.at(-1)).toBe('[DONE]');
      expect(events.length).toBeGreaterThan(5);
      expect(content(events)).toBe(plain.body.choices[0].message.content);
      const first = JSON.parse(events[0]);
      expect(first).toMatchObject({ object: 'chat.completion.chunk', model: 'sim-1', usage: null });
      expect(first.choices[0].delta).toEqual({ role: 'assistant', content: '' });
      const usage = JSON.parse(events.at(-2)!);
      expect(usage.choices).toEqual([]);
      expect(usage.usage).toEqual(plain.body.usage);
      expect(JSON.parse(events.at(-3)!).choices[0].finish_reason).toBe('stop');

      const withoutUsage = await stream({});
      expect(withoutUsage.events.some((e) => e.includes('"usage"'))).toBe(false);
    });

    it('spaces the chunks by streamChunkMs after the latency', async () => {
      await request(url, 'PATCH', '/admin/knobs', { body: { latencyMs: 100, streamChunkMs: 20 } });
      const started = Date.now();
      const { events } = await stream({});
      const contentChunks = events.filter(
        (e) => e !== '[DONE]' && JSON.parse(e).choices[0]?.delta?.content,
      ).length;
      expect(Date.now() - started).toBeGreaterThanOrEqual(100 + (contentChunks - 1) * 20);
    });

    it('breaks a stream mid-way: part of the answer, no [DONE], counted as broken', async () => {
      const plain = (await chat()).body.choices[0].message.content as string;
      await request(url, 'PATCH', '/admin/knobs', { body: { streamBreakRate: 1, streamChunkMs: 5 } });
      const { events, broken } = await stream({});
      expect(broken).toBe(true);
      expect(events).not.toContain('[DONE]');
      const partial = content(events);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(plain.length);
      expect(plain.startsWith(partial)).toBe(true);
      const stats = (await request(url, 'GET', '/admin/stats')).body;
      expect(stats.byOutcome).toMatchObject({ ok: 1, broken: 1 });
    });

    it('still answers faults before any chunk: 429 with Retry-After', async () => {
      await request(url, 'PATCH', '/admin/knobs', { body: { rateLimitRate: 1 } });
      const { res } = await stream({});
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
    });
  });

  it('enforces rpmLimit like a provider (one second of it at once), with x-ratelimit headers, and counts requests by status in /metrics', async () => {
    await request(url, 'PATCH', '/admin/knobs', { body: { rpmLimit: 120 } });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await chat());
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0].headers.get('x-ratelimit-limit-requests')).toBe('120');
    expect(answers[1].headers.get('x-ratelimit-remaining-requests')).toBe('118');
    expect(answers[2].headers.get('retry-after')).toBe('1');
    expect(answers[2].body.error.message).toBe('rate limit of 120 requests a minute');

    const metrics = (await request(url, 'GET', '/metrics')).body as string;
    const count = (status: string) =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith('llm_sim_requests_total{') && l.includes(`status="${status}"`))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(count('429')).toBeGreaterThanOrEqual(1);
    expect(count('200')).toBeGreaterThanOrEqual(2);
    await request(url, 'PATCH', '/admin/knobs', { body: { rpmLimit: 0 } });
    expect((await chat()).status).toBe(200);
  });
});
