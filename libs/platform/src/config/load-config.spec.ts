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
    expect(problems).toMatch(/DB_POOL_MAX: must be a whole number in plain decimal digits/);
    expect(problems).toMatch(/REDIS_URL: must be a URL starting with redis:\/\/ or rediss:\/\//);
    expect(problems).toMatch(/NODE_ENV: /);
    expect(problems).toMatch(/RECONCILER_ENABLED: must be true or false/);
  });

  it.each([
    ['a blank', 'ORCHESTRATOR_PORT', ' '],
    ['hexadecimal', 'ORCHESTRATOR_PORT', '0x1F90'],
    ['an exponent', 'ORCHESTRATOR_PORT', '1e3'],
    ['a fraction', 'DB_POOL_MAX', '12.5'],
    ['a sign', 'DB_POOL_MAX', '+12'],
    ['surrounding spaces', 'WORKER_HEALTH_PORT', ' 8081 '],
    ['an underscore separator', 'DB_STATEMENT_TIMEOUT_MS', '5_000'],
    ['Infinity', 'RECONCILER_BATCH_SIZE', 'Infinity'],
  ])('refuses %s in an integer variable, naming it', (_name, key, value) => {
    expect(() => loadConfig({ [key]: value })).toThrow(
      new RegExp(`${key}: must be a whole number in plain decimal digits`),
    );
  });

  it('refuses what is not a plain decimal in a number or a status-code list too', () => {
    expect(() => loadConfig({ LLM_SIM_ERROR_RATE: ' ' })).toThrow(
      /LLM_SIM_ERROR_RATE: must be a number in plain/,
    );
    expect(() => loadConfig({ LLM_SIM_ERROR_RATE: '5e-1' })).toThrow(/LLM_SIM_ERROR_RATE: must be a number/);
    expect(loadConfig({ LLM_SIM_ERROR_RATE: '0.5' }).LLM_SIM_ERROR_RATE).toBe(0.5);
    expect(() => loadConfig({ LLM_SIM_ERROR_STATUS: '500,0x1F6' })).toThrow(/LLM_SIM_ERROR_STATUS: /);
    expect(loadConfig({ LLM_SIM_ERROR_STATUS: '500, 503' }).LLM_SIM_ERROR_STATUS).toEqual([500, 503]);
  });

  it('rejects out-of-range values', () => {
    expect(() => loadConfig({ DB_POOL_MAX: '1' })).toThrow(/DB_POOL_MAX: must be >= 2/);
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
