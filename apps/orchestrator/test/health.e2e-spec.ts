import { startOrchestrator, startWorker, type RunningApp } from '../../../test/support/apps';
import { request } from '../../../test/support/http';

describe('health and metrics endpoints (orchestrator and worker)', () => {
  let api: RunningApp;
  let worker: RunningApp;
  beforeAll(async () => {
    api = await startOrchestrator();
    worker = await startWorker();
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  it.each(['orchestrator', 'worker'])('%s /health/ready reports each dependency up', async (which) => {
    const app = which === 'orchestrator' ? api : worker;
    const res = await request(app.url, 'GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details.database).toEqual({ status: 'up' });
    expect(res.body.details.redis).toMatchObject({ status: 'up' });
  });

  it.each(['orchestrator', 'worker'])(
    '%s /metrics exposes Prometheus text with the app label',
    async (which) => {
      const app = which === 'orchestrator' ? api : worker;
      const res = await request(app.url, 'GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const app_label = which === 'orchestrator' ? 'orchestrator' : 'agent-worker';
      expect(String(res.body)).toMatch(
        new RegExp(`process_resident_memory_bytes\\{app="${app_label}"\\} \\d+`),
      );
    },
  );

  it('orchestrator readiness stays 200 with Redis unreachable, showing it down, and answers within the timeout; the worker turns 503', async () => {
    const broken = await startOrchestrator({
      REDIS_URL: 'redis://127.0.0.1:1',
      HEALTH_CHECK_TIMEOUT_MS: '300',
    });
    const brokenWorker = await startWorker({
      REDIS_URL: 'redis://127.0.0.1:1',
      HEALTH_CHECK_TIMEOUT_MS: '300',
    });
    try {
      const ready = await request(broken.url, 'GET', '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.details.database).toEqual({ status: 'up' });
      expect(ready.body.details.redis.status).toBe('down');
      expect(ready.ms).toBeLessThan(1500);
      const live = await request(broken.url, 'GET', '/health/live');
      expect(live.status).toBe(200);

      const workerReady = await request(brokenWorker.url, 'GET', '/health/ready');
      expect(workerReady.status).toBe(503);
      expect(workerReady.headers.get('retry-after')).toBe('5');
      expect(workerReady.body.details.redis.status).toBe('down');
    } finally {
      await brokenWorker.close();
      await broken.close();
    }
  });
});
