import { startOrchestrator, type RunningApp } from '../../../test/support/apps';
import { request } from '../../../test/support/http';

describe('security headers and CORS', () => {
  const apps: RunningApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });
  const start = async (overrides: Record<string, string> = {}) => {
    const app = await startOrchestrator(overrides);
    apps.push(app);
    return app;
  };

  it('every API, docs and error answer carries the helmet security headers', async () => {
    const app = await start();
    for (const path of ['/v1/personas?limit=1', '/v1/tasks/not-a-uuid', '/docs', '/v2/unknown']) {
      const res = await request(app.url, 'GET', path);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('probes and scrapes carry no browser headers (nothing renders them) but still the request id', async () => {
    const app = await start();
    for (const path of ['/health/live', '/health/ready', '/metrics']) {
      const res = await request(app.url, 'GET', path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBeNull();
      expect(res.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('CORS is off by default: no Access-Control-* headers, even for a preflight', async () => {
    const app = await start();
    const preflight = await request(app.url, 'OPTIONS', '/v1/tasks', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await request(app.url, 'GET', '/v1/personas?limit=1', {
      headers: { origin: 'https://evil.example' },
    });
    expect(simple.status).toBe(200);
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with CORS_ORIGINS, only the listed origins are allowed, with the API headers', async () => {
    const app = await start({ CORS_ORIGINS: 'https://app.example.com' });
    const allowed = await request(app.url, 'OPTIONS', '/v1/tasks', {
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key,content-type',
      },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-api-key');
    const other = await request(app.url, 'GET', '/v1/personas?limit=1', {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
