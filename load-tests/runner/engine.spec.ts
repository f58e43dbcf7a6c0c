import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runEngine } from './engine';
import { parseScenarioFile, resolveScenario } from './scenario';

/** A loopback fake of the task API: enough to watch the engine drive real sockets. */
function fakeApi(handler?: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const issued = new Set<string>();
  const keys = new Set<string>();
  let unknownIds = 0;
  let bodyBytes = 0;
  const server: Server = createServer((req, res) => {
    keys.add(String(req.headers['x-api-key']));
    req.resume();
    req.on('end', () => {
      if (handler?.(req, res)) return;
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        bodyBytes += Buffer.byteLength(text);
        res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      };
      if (req.method === 'POST' && req.url === '/v1/tasks') {
        const id = randomUUID();
        issued.add(id);
        return send(202, { id, status: 'queued' });
      }
      const m = /^\/v1\/tasks\/([0-9a-f-]+)$/.exec(req.url ?? '');
      if (m) {
        if (!issued.has(m[1])) unknownIds++;
        return send(issued.has(m[1]) ? 200 : 404, { id: m[1] });
      }
      send(404, { message: 'no route' });
    });
  });
  return {
    issued,
    keys,
    get unknownIds() {
      return unknownIds;
    },
    get bodyBytes() {
      return bodyBytes;
    },
    async start(): Promise<string> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const scenario = (overrides: Record<string, unknown> = {}) =>
  resolveScenario(
    parseScenarioFile({
      name: 'engine',
      description: 'engine test',
      stages: [
        { name: 'ramp', duration: '1s', target: 4 },
        { name: 'hold', duration: '1s', target: 4 },
      ],
      thinkTime: { success: 0.05, '429': 0.5, other: 0.1 },
      requests: [
        {
          name: 'create_task',
          weight: 2,
          method: 'POST',
          path: '/v1/tasks',
          createsTask: true,
          expect: [202],
          body: { persona_id: '{{persona}}', n: '{{vu}}-{{iter}}' },
        },
        { name: 'get_task', weight: 1, method: 'GET', path: '/v1/tasks/{{taskId}}' },
        { name: 'metrics', weight: 1, method: 'GET', path: '/metrics', optional: true },
      ],
      gracefulStop: '2s',
      ...overrides,
    }),
  );

describe('load engine (against a loopback server)', () => {
  it('ramps users, plays the mix with think time, follows created ids and counts wire bytes', async () => {
    const api = fakeApi();
    const target = await api.start();
    try {
      const r = await runEngine({
        scenario: scenario(),
        target,
        apiKeys: ['k1', 'k2'],
        persona: 'p',
        runId: 'r',
        progressEveryMs: 0,
        log: () => undefined,
      });
      const all = r.stats.merge();
      expect(r.aborted).toBe(false);
      expect(r.durationMs).toBeGreaterThanOrEqual(2000);
      // Think time bounds the request count: 4 users x 2 s / 50 ms = 160 at most (the ramp makes it fewer).
      expect(all.requests).toBeGreaterThan(20);
      expect(all.requests).toBeLessThanOrEqual(160);
      expect(all.success).toBe(all.requests);
      expect(api.unknownIds).toBe(0);
      expect(r.accepted.map((a) => a.id).sort()).toEqual([...api.issued].sort());
      expect(r.stats.merge(undefined, 'metrics').requests).toBe(0);
      expect(r.notes.join()).toContain('dropped "metrics" from the mix');
      expect(api.keys).toEqual(new Set(['k1', 'k2']));
      expect(Math.max(...r.stages.map((s) => s.maxUsers))).toBe(4);
      expect(r.stages[0].userSeconds).toBeGreaterThan(1);
      expect(r.stages[0].userSeconds).toBeLessThan(3.2);
      expect(r.stages[1].userSeconds).toBeGreaterThan(3);
      const bytes = r.stages.reduce(
        (a, s) => ({ sent: a.sent + s.sentBytes, received: a.received + s.receivedBytes }),
        { sent: 0, received: 0 },
      );
      expect(bytes.received).toBeGreaterThan(api.bodyBytes);
      expect(bytes.sent).toBeGreaterThan(all.requests * 50);
      expect(r.timeline.reduce((a, p) => a + p.requests, 0)).toBe(all.requests);
      expect(r.timeline.length).toBeGreaterThanOrEqual(2);
      expect(r.loopLagMs.max).toBeGreaterThanOrEqual(r.loopLagMs.p50);
    } finally {
      await api.stop();
    }
  });

  it('runs a closed loop without think time and classifies 429 and 503', async () => {
    let n = 0;
    const api = fakeApi((req, res) => {
      n++;
      if (n % 3 === 0) res.writeHead(429, { 'retry-after': '1' }).end('{}');
      else if (n % 3 === 1) res.writeHead(503).end('{}');
      else return false;
      return true;
    });
    const target = await api.start();
    try {
      const s = scenario({
        model: 'closed-loop',
        stages: [{ duration: '1s', target: 3, ramp: 'step' }],
        thinkTime: { success: 5, other: 5 },
        requests: [
          {
            name: 'create_task',
            weight: 1,
            method: 'POST',
            path: '/v1/tasks',
            createsTask: true,
            expect: [202],
          },
        ],
      });
      const r = await runEngine({
        scenario: s,
        target,
        apiKeys: [],
        persona: 'p',
        runId: 'r',
        progressEveryMs: 0,
        log: () => undefined,
      });
      const all = r.stats.merge();
      // With a 5 s think time this would be at most 3 requests; a closed loop ignores it.
      expect(all.requests).toBeGreaterThan(30);
      expect(all.rateLimited).toBeGreaterThan(0);
      expect(all.shed).toBeGreaterThan(0);
      expect(all.rateLimited + all.shed + all.success).toBe(all.requests);
      expect(r.stages[0].maxUsers).toBe(3);
      expect(api.keys).toEqual(new Set(['undefined']));
    } finally {
      await api.stop();
    }
  });

  it('paces users: each starts a request every thinkTime.success seconds, so the rate never exceeds users / pace', async () => {
    const api = fakeApi();
    const target = await api.start();
    try {
      const s = scenario({
        model: 'paced',
        stages: [{ duration: '1s', target: 4, ramp: 'step' }],
        thinkTime: { success: 0.2, other: 0.2 },
        requests: [
          {
            name: 'create_task',
            weight: 1,
            method: 'POST',
            path: '/v1/tasks',
            createsTask: true,
            expect: [202],
          },
        ],
      });
      const r = await runEngine({
        scenario: s,
        target,
        apiKeys: [],
        persona: 'p',
        runId: 'r',
        progressEveryMs: 0,
        log: () => undefined,
      });
      const all = r.stats.merge();
      // 4 users, one start per 0.2 s each, for 1 s: at most 5 starts a user (timers never fire early);
      // a closed loop against this instant target would send hundreds.
      expect(all.requests).toBeLessThanOrEqual(20);
      expect(all.requests).toBeGreaterThanOrEqual(4);
      expect(all.success).toBe(all.requests);
    } finally {
      await api.stop();
    }
  });

  it('refuses a paced scenario without a pace', () => {
    expect(() =>
      scenario({ model: 'paced', thinkTime: { success: { min: 0.1, max: 0.2 }, other: 1 } }),
    ).toThrow('a paced scenario needs thinkTime.success as a number of seconds above 0');
  });

  it('shares an iteration budget among the users (k6 shared-iterations) and ends when it is spent', async () => {
    const api = fakeApi();
    const target = await api.start();
    try {
      const s = scenario({
        model: 'closed-loop',
        iterations: 25,
        stages: [{ duration: '60s', target: 4, ramp: 'step' }],
        requests: [
          {
            name: 'create_task',
            weight: 1,
            method: 'POST',
            path: '/v1/tasks',
            createsTask: true,
            expect: [202],
          },
        ],
      });
      const r = await runEngine({
        scenario: s,
        target,
        apiKeys: [],
        persona: 'p',
        runId: 'r',
        progressEveryMs: 0,
      });
      expect(r.stats.merge().requests).toBe(25);
      expect(r.accepted).toHaveLength(25);
      expect(r.aborted).toBe(false);
      expect(r.durationMs).toBeLessThan(60_000);
    } finally {
      await api.stop();
    }
  });

  it('stops early when its signal aborts, and says so', async () => {
    const api = fakeApi();
    const target = await api.start();
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const r = await runEngine({
        scenario: scenario({ stages: [{ duration: '30s', target: 2 }] }),
        target,
        apiKeys: [],
        persona: 'p',
        runId: 'r',
        signal: controller.signal,
        progressEveryMs: 0,
        log: () => undefined,
      });
      expect(r.aborted).toBe(true);
      // Planned for 30 s; the abort ends it long before.
      expect(r.durationMs).toBeLessThan(20_000);
    } finally {
      await api.stop();
    }
  });

  it('counts a refused connection as an error of its kind', async () => {
    const api = fakeApi();
    const target = await api.start();
    await api.stop();
    const s = scenario({
      stages: [{ duration: '300ms', target: 1 }],
      requests: [{ name: 'health', weight: 1, method: 'GET', path: '/health/live' }],
    });
    const r = await runEngine({
      scenario: s,
      target,
      apiKeys: [],
      persona: 'p',
      runId: 'r',
      progressEveryMs: 0,
      log: () => undefined,
    });
    const all = r.stats.merge();
    expect(all.requests).toBeGreaterThan(0);
    expect(Object.keys(all.errorsByKind)).toEqual(['ECONNREFUSED']);
  });
});
