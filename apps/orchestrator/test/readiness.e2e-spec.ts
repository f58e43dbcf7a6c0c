import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { eventually, request } from '../../../test/support/http';
import { metricValue } from '../../../test/support/metrics';
import { TcpProxy } from '../../../test/support/tcp-proxy';
import { spawnOrchestrator } from '../../../test/support/child-app';
import { createPersona, testPool } from '../../../test/support/db';
import { testConfig } from '../../../test/support/test-env';

const CHECK_TIMEOUT_MS = 300;
// A readiness answer may take one check timeout plus scheduling on a busy machine, never more.
const READY_BOUND_MS = CHECK_TIMEOUT_MS + 700;

/** The test URL with its host:port replaced by the proxy's. */
function through(proxy: TcpProxy, url: string): string {
  const parsed = new URL(url);
  parsed.host = proxy.hostPort;
  return parsed.toString();
}

describe('readiness follows Postgres and Redis through a proxy the test can cut', () => {
  let proxy: TcpProxy;
  let api: RunningApp;
  let closed: RunningApp | undefined;
  afterEach(async () => {
    // Each app is closed once, even when a test starts none of its own.
    if (api && api !== closed) await api.close();
    closed = api;
    await proxy?.close();
  });

  const ready = () => request(api.url, 'GET', '/health/ready');
  const readyStatusWith = (status: number, redis: 'up' | 'down') => async () => {
    const res = await ready();
    return res.status === status && res.body.details.redis?.status === redis ? res : undefined;
  };
  const readyStatus = (status: number) => async () => {
    const res = await ready();
    expect(res.ms).toBeLessThan(READY_BOUND_MS);
    return res.status === status ? res : undefined;
  };

  it('Postgres refused or silent: readiness 503 within the check timeout, liveness 200, API 503 fast; then back to 200', async () => {
    const env = testConfig();
    proxy = await TcpProxy.to(new URL(env.DATABASE_URL).host);
    api = await startOrchestrator({
      DATABASE_URL: through(proxy, env.DATABASE_URL),
      HEALTH_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
      DB_POOL_ACQUIRE_TIMEOUT_MS: '500',
    });
    expect((await ready()).status).toBe(200);

    for (const cut of ['refuse', 'blackhole'] as const) {
      proxy[cut]();
      const down = await eventually(readyStatus(503), 10000);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(down.body.details.database.status).toBe('down');
      expect(down.body.details.redis.status).toBe('up');
      expect(down.body.details.load.status).toBe('up');
      expect((await request(api.url, 'GET', '/health/live')).status).toBe(200);
      const apiCall = await request(api.url, 'GET', '/v1/personas?limit=1');
      expect(apiCall.status).toBe(503);
      expect(apiCall.headers.get('retry-after')).toBe('1');
      expect(apiCall.ms).toBeLessThan(2000);

      proxy.restore();
      const up = await eventually(readyStatus(200), 10000);
      expect(up.body.details.database).toEqual({ status: 'up' });
    }
  });

  it('Redis refused or silent: readiness stays 200 and shows Redis down, tasks are still accepted and read, the limiter fails open; then Redis up again', async () => {
    const env = testConfig();
    proxy = await TcpProxy.to(new URL(env.REDIS_URL).host);
    api = await startOrchestrator({
      REDIS_URL: through(proxy, env.REDIS_URL),
      QUEUE_PREFIX: `test-ready-${Date.now()}`,
      RATE_LIMIT_ENABLED: 'true',
      HEALTH_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
    });
    const pool = testPool();
    try {
      const persona = await createPersona(pool, 'redis-down');
      const healthy = await ready();
      expect(healthy.status).toBe(200);
      expect(healthy.body.details.rate_limiter).toEqual({ status: 'up', mode: 'fail-open', degraded: false });

      for (const cut of ['refuse', 'blackhole'] as const) {
        const errorsBefore =
          (await metricValue(api.url, 'rate_limiter_storage_errors_total{app="orchestrator"}')) ?? 0;
        proxy[cut]();
        const degraded = await eventually(async () => {
          const res = await ready();
          expect(res.ms).toBeLessThan(READY_BOUND_MS);
          return res.body.details.redis.status === 'down' ? res : undefined;
        }, 10000);
        expect(degraded.status).toBe(200);
        expect(degraded.body.status).toBe('ok');
        expect(degraded.body.details.redis.message).toEqual(expect.any(String));
        expect(degraded.body.details.database.status).toBe('up');
        expect(degraded.body.details.rate_limiter).toMatchObject({
          status: 'up',
          mode: 'fail-open',
          degraded: true,
        });
        expect((await request(api.url, 'GET', '/health/live')).status).toBe(200);

        // Fail-open: the limiter cannot count, the request is served anyway, and that is counted.
        const apiCall = await request(api.url, 'GET', '/v1/personas?limit=1');
        expect(apiCall.status).toBe(200);
        expect(apiCall.ms).toBeLessThan(2000);
        expect(
          await metricValue(api.url, 'rate_limiter_storage_errors_total{app="orchestrator"}'),
        ).toBeGreaterThan(errorsBefore);
        // A task is stored and accepted (the reconciler queues it once Redis is back), and read back.
        const accepted = await request(api.url, 'POST', '/v1/tasks', {
          body: { persona_id: persona, task_type: 'generate_post', topic: `during ${cut}` },
        });
        expect(accepted.status).toBe(202);
        expect(accepted.ms).toBeLessThan(2000);
        const read = await request(api.url, 'GET', `/v1/tasks/${accepted.body.id}`);
        expect(read.status).toBe(200);
        expect(read.body.status).toBe('queued');

        proxy.restore();
        const up = await eventually(async () => {
          const res = await ready();
          return res.body.details.redis.status === 'up' ? res : undefined;
        }, 15000);
        expect(up.status).toBe(200);
      }
    } finally {
      await pool.end();
    }
  });

  it('with Redis down, readiness still turns 503 when Postgres goes too', async () => {
    const env = testConfig();
    proxy = await TcpProxy.to(new URL(env.REDIS_URL).host);
    const dbProxy = await TcpProxy.to(new URL(env.DATABASE_URL).host);
    try {
      api = await startOrchestrator({
        REDIS_URL: through(proxy, env.REDIS_URL),
        DATABASE_URL: through(dbProxy, env.DATABASE_URL),
        QUEUE_PREFIX: `test-ready-${Date.now()}`,
        HEALTH_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
        DB_POOL_ACQUIRE_TIMEOUT_MS: '500',
      });
      proxy.refuse();
      await eventually(readyStatusWith(200, 'down'), 10000);
      dbProxy.refuse();
      const down = await eventually(readyStatus(503), 10000);
      expect(down.body.details.database.status).toBe('down');
      expect(down.body.details.redis.status).toBe('down');
      dbProxy.restore();
      await eventually(readyStatusWith(200, 'down'), 10000);
    } finally {
      await dbProxy.close();
    }
  });

  it('with Redis down, readiness turns 503 at the start of a shutdown (SIGTERM to the real process)', async () => {
    const child = await spawnOrchestrator({
      REDIS_URL: 'redis://127.0.0.1:1',
      HEALTH_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
      SHUTDOWN_GRACE_MS: '3000',
    });
    try {
      const before = await request(child.url, 'GET', '/health/ready');
      expect(before.status).toBe(200);
      expect(before.body.details.redis.status).toBe('down');
      const signalledAt = Date.now();
      child.process.kill('SIGTERM');
      const shutting = await eventually(
        async () => {
          const res = await request(child.url, 'GET', '/health/ready');
          return res.status === 503 ? res : undefined;
        },
        2000,
        20,
      );
      expect(Date.now() - signalledAt).toBeLessThan(2000);
      expect(shutting.body.status).toBe('shutting_down');
      expect(shutting.headers.get('retry-after')).toBe('5');
    } finally {
      child.kill();
      await child.exited;
    }
  });
});
