import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('fills every default when nothing is set', () => {
    const env = loadConfig({});
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:5432/agent_platform',
      REDIS_URL: 'redis://127.0.0.1:6379',
      ORCHESTRATOR_PORT: 8080,
      WORKER_HEALTH_PORT: 8081,
      DB_POOL_MAX: 30,
      DB_POOL_MAX_LIFETIME_S: 3600,
      RECONCILER_ENABLED: true,
    });
  });

  it('converts numbers and booleans, and treats empty strings as unset', () => {
    const env = loadConfig({ DB_POOL_MAX: '12', RECONCILER_ENABLED: 'false', ORCHESTRATOR_PORT: '' });
    expect(env.DB_POOL_MAX).toBe(12);
    expect(env.RECONCILER_ENABLED).toBe(false);
    expect(env.ORCHESTRATOR_PORT).toBe(8080);
  });

  it('names every bad variable and why', () => {
    let error: unknown;
    try {
      loadConfig({
        DB_POOL_MAX: 'lots',
        REDIS_URL: 'http://x',
        NODE_ENV: 'staging',
        RECONCILER_ENABLED: 'maybe',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DB_POOL_MAX: must be a number/);
    expect(problems).toMatch(/REDIS_URL: must be a URL starting with redis:\/\/ or rediss:\/\//);
    expect(problems).toMatch(/NODE_ENV: /);
    expect(problems).toMatch(/RECONCILER_ENABLED: must be true or false/);
  });

  it('rejects out-of-range values', () => {
    expect(() => loadConfig({ DB_POOL_MAX: '0' })).toThrow(/DB_POOL_MAX: must be >= 1/);
    expect(() => loadConfig({ ORCHESTRATOR_PORT: '70000' })).toThrow(/ORCHESTRATOR_PORT: must be <= 65535/);
  });

  it('takes Standard Webhooks secrets in WEBHOOK_SECRET, one or several, and names a bad one', () => {
    const a = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const b = `whsec_${Buffer.alloc(24, 2).toString('base64')}`;
    expect(loadConfig({ WEBHOOK_SECRET: `${a} ${b}` }).WEBHOOK_SECRET).toBe(`${a} ${b}`);
    expect(() => loadConfig({ WEBHOOK_SECRET: 'a-plain-shared-secret-0123456789' })).toThrow(
      /WEBHOOK_SECRET: the secret must start with "whsec_"/,
    );
    expect(() => loadConfig({ WEBHOOK_SECRET: `${a} whsec_c2hvcnQ=` })).toThrow(
      /WEBHOOK_SECRET: secret 2 must decode to 24-64 bytes, not 5/,
    );
  });
});
