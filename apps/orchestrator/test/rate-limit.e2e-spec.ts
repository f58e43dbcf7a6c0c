import Redis from 'ioredis';
import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { apiKeysEnv, testKey } from '../../../test/support/api-keys';
import { request, type JsonResponse } from '../../../test/support/http';
import { testEnvVars } from '../../../test/support/test-env';

let prefixes = 0;
/** Each test counts in its own Redis keys (the limiter's keys live under QUEUE_PREFIX). */
const isolated = () => `test-rl-${process.pid}-${Date.now().toString(36)}-${prefixes++}`;

const tiers = (tiers: Record<string, { per_minute: number; burst_per_second: number }>) =>
  JSON.stringify(tiers);

const READ = '/v1/personas?limit=1';

/**
 * Counts the limiter's script calls for one key prefix, with Redis MONITOR: what really reached
 * Redis, whatever else shares it. stop() waits until MONITOR has shown everything sent before it.
 */
async function watchLimiterScripts(
  prefix: string,
): Promise<{ calls: () => number; stop: () => Promise<void> }> {
  const client = new Redis(testEnvVars().REDIS_URL);
  const monitor = await client.monitor();
  let calls = 0;
  let sawSentinel: () => void = () => undefined;
  const sentinel = `sentinel-${prefix}`;
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = String(args[0]).toLowerCase();
    if (
      (command === 'evalsha' || command === 'eval') &&
      args.some((a) => a.startsWith(`${prefix}:rate-limit:`))
    )
      calls++;
    if (command === 'echo' && args[1] === sentinel) sawSentinel();
  });
  return {
    calls: () => calls,
    stop: async () => {
      const seen = new Promise<void>((resolve) => (sawSentinel = resolve));
      await client.echo(sentinel);
      await seen;
      monitor.disconnect();
      client.disconnect();
    },
  };
}

describe('rate limiting (Redis-backed, shared by replicas)', () => {
  const apps: RunningApp[] = [];
  const start = async (overrides: Record<string, string>) => {
    const app = await startOrchestrator({ RATE_LIMIT_ENABLED: 'true', ...overrides });
    apps.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  it('two instances sharing one Redis accept exactly the configured limit between them', async () => {
    const env = {
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 20, burst_per_second: 1000 } }),
    };
    const [a, b] = await Promise.all([start(env), start(env)]);
    const results: JsonResponse[] = [];
    for (let i = 0; i < 40; i++) results.push(await request(i % 2 ? b.url : a.url, 'GET', READ));

    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    // The first 20, whichever replica served them, then nothing: one count, not one per replica.
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(results.slice(0, 20).map((r) => Number(r.headers.get('x-ratelimit-remaining')))).toEqual(
      Array.from({ length: 20 }, (_, i) => 19 - i),
    );
  });

  it('a limited request gets 429 with Retry-After, X-RateLimit-* headers and the standard error body', async () => {
    const app = await start({
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 3, burst_per_second: 1000 } }),
    });
    for (let i = 0; i < 3; i++) expect((await request(app.url, 'GET', READ)).status).toBe(200);
    const limited = await request(app.url, 'GET', READ);

    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBe(retryAfter);
    expect(limited.headers.get('x-request-id')).toBeTruthy();
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `Rate limit exceeded for client 127.0.0.1 (tier default): 3 requests per 60 s; retry after ${retryAfter} s`,
    });

    const metrics = await request(app.url, 'GET', '/metrics');
    expect(String(metrics.body)).toMatch(
      /http_requests_rate_limited_total\{tier="default",window="sustained",app="orchestrator"\} 1/,
    );
  });

  it('allowed responses carry the limit and remaining of the tightest window (seed defaults: burst 50/s, 600/min)', async () => {
    const app = await start({ QUEUE_PREFIX: isolated() });
    const first = await request(app.url, 'GET', READ);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('50');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('49');
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
  });

  it('the burst window refuses a spike beyond burst_per_second and opens again a second later', async () => {
    const app = await start({
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 1000, burst_per_second: 5 } }),
    });
    const spike = await Promise.all(Array.from({ length: 12 }, () => request(app.url, 'GET', READ)));
    expect(spike.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = spike.filter((r) => r.status === 429);
    expect(refused).toHaveLength(7);
    expect(refused[0].headers.get('retry-after')).toBe('1');
    expect(refused[0].body.message).toContain('5 requests per 1 s');

    await new Promise((r) => setTimeout(r, 1300));
    expect((await request(app.url, 'GET', READ)).status).toBe(200);
  });

  it('a request the burst window refuses is not counted in the sustained window', async () => {
    const app = await start({
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 5, burst_per_second: 2 } }),
    });
    const spike = await Promise.all(Array.from({ length: 6 }, () => request(app.url, 'GET', READ)));
    expect(spike.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429, 429]);
    expect(spike.find((r) => r.status === 429)?.body.message).toContain('2 requests per 1 s');

    // 2 of the 5 per minute are spent; the 4 refused ones are not. Paced under the burst limit:
    const paced: number[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      const res = await request(app.url, 'GET', READ);
      paced.push(res.status);
      if (res.status === 429) expect(res.body.message).toContain('5 requests per 60 s');
    }
    expect(paced).toEqual([200, 200, 200, 429]);
  });

  it('a large limit is leased: most requests skip Redis, and two replicas admit exactly the limit between them', async () => {
    // 1% of the smallest limit per lease (LEASE_SHARE): 4 requests per Redis round trip here.
    const prefix = isolated();
    const env = {
      QUEUE_PREFIX: prefix,
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 400, burst_per_second: 10_000 } }),
    };
    const [a, b] = await Promise.all([start(env), start(env)]);
    const scripts = await watchLimiterScripts(prefix);
    const started = Date.now();
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 443; i++) statuses.push((await request(i % 2 ? b.url : a.url, 'GET', READ)).status);
    } finally {
      await scripts.stop();
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);

    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Exactly the limit, however many 1 s burst windows ended during the run: a burst window ending
    // does not throw away what the 60 s window counted.
    expect(statuses.filter((s) => s === 200)).toHaveLength(400);
    // Refusals start at most one lease per replica before the limit, and end the admissions at most
    // one lease per replica after it.
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(400 - 2 * 4);
    expect(statuses.lastIndexOf(200)).toBeLessThan(400 + 2 * 4);
    // Redis round trips: one per lease of 4, one more per replica each time the burst window ended,
    // and one per refused request; far fewer than one per request.
    const refused = statuses.length - 400;
    expect(scripts.calls()).toBeGreaterThanOrEqual(100);
    expect(scripts.calls()).toBeLessThanOrEqual(100 + 2 * (seconds + 1) + refused);
  });

  it('requests arriving while a lease is being taken wait for it instead of each taking one', async () => {
    const prefix = isolated();
    const app = await start({
      QUEUE_PREFIX: prefix,
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 400, burst_per_second: 10_000 } }),
    });
    const burst = await Promise.all(Array.from({ length: 50 }, () => request(app.url, 'GET', READ)));
    expect(burst.every((r) => r.status === 200)).toBe(true);

    const redis = new Redis(testEnvVars().REDIS_URL);
    try {
      // One lease of 4 plus at most one exact count per request; 50 leases would have counted 200.
      const hits = Number(await redis.get(`${prefix}:rate-limit:{ip:127.0.0.1}:sustained:hits`));
      expect(hits).toBeGreaterThanOrEqual(50);
      expect(hits).toBeLessThanOrEqual(54);
    } finally {
      redis.disconnect();
    }
  });

  it('health, metrics and docs are never limited and carry no rate-limit headers', async () => {
    const app = await start({
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: tiers({ default: { per_minute: 1, burst_per_second: 1 } }),
    });
    expect((await request(app.url, 'GET', READ)).status).toBe(200);
    expect((await request(app.url, 'GET', READ)).status).toBe(429);
    for (let i = 0; i < 5; i++) {
      for (const path of ['/health/live', '/health/ready', '/metrics', '/docs-json']) {
        const res = await request(app.url, 'GET', path);
        expect([path, res.status]).toEqual([path, 200]);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
    }
  });

  it('limits follow the API key tier, and each key has its own count', async () => {
    const basic = testKey('basic-client', ['personas:read']);
    const gold = testKey('gold-client', ['personas:read'], 'gold');
    const app = await start({
      QUEUE_PREFIX: isolated(),
      API_KEYS: apiKeysEnv([basic, gold]),
      RATE_LIMIT_TIERS: tiers({
        default: { per_minute: 3, burst_per_second: 1000 },
        gold: { per_minute: 8, burst_per_second: 1000 },
      }),
    });
    const send = async (secret: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        statuses.push((await request(app.url, 'GET', READ, { headers: { 'x-api-key': secret } })).status);
      }
      return statuses;
    };
    const [basicStatuses, goldStatuses] = [await send(basic.secret), await send(gold.secret)];
    expect(basicStatuses.filter((s) => s === 200)).toHaveLength(3);
    expect(goldStatuses.filter((s) => s === 200)).toHaveLength(8);
    const limited = await request(app.url, 'GET', READ, { headers: { 'x-api-key': gold.secret } });
    expect(limited.body.message).toContain('API key "gold-client" (tier gold): 8 requests per 60 s');
  });

  it('identifies clients by IP, believing X-Forwarded-For only when TRUST_PROXY says so', async () => {
    const limits = tiers({ default: { per_minute: 2, burst_per_second: 1000 } });
    const behindProxy = await start({
      QUEUE_PREFIX: isolated(),
      RATE_LIMIT_TIERS: limits,
      TRUST_PROXY: 'loopback',
    });
    const from = (ip: string) =>
      request(behindProxy.url, 'GET', READ, { headers: { 'x-forwarded-for': ip } });
    expect([(await from('203.0.113.1')).status, (await from('203.0.113.1')).status]).toEqual([200, 200]);
    expect((await from('203.0.113.1')).status).toBe(429);
    expect((await from('203.0.113.2')).status).toBe(200);

    const direct = await start({ QUEUE_PREFIX: isolated(), RATE_LIMIT_TIERS: limits });
    const spoof = (ip: string) => request(direct.url, 'GET', READ, { headers: { 'x-forwarded-for': ip } });
    expect([(await spoof('198.51.100.1')).status, (await spoof('198.51.100.2')).status]).toEqual([200, 200]);
    const third = await spoof('198.51.100.3');
    expect(third.status).toBe(429);
    expect(third.body.message).toContain('client 127.0.0.1');
  });
});
