import { loadConfig, type AppEnv } from '@app/platform';

/**
 * The environment every test runs with: its own database and Redis database, so tests never
 * touch a stack running on the same machine. TEST_DATABASE_NAME / TEST_REDIS_DB let several
 * checkouts test at once on one machine.
 */
export function testEnvVars(): Record<string, string> {
  const pgHost = process.env.TEST_PG_HOSTPORT ?? '127.0.0.1:5432';
  const redisHost = process.env.TEST_REDIS_HOSTPORT ?? '127.0.0.1:6379';
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HTTP_HOST: '127.0.0.1',
    DATABASE_URL: `postgres://postgres:postgres@${pgHost}/${process.env.TEST_DATABASE_NAME ?? 'agent_platform_test'}`,
    REDIS_URL: `redis://${redisHost}/${process.env.TEST_REDIS_DB ?? '1'}`,
    QUEUE_PREFIX: 'test',
    ORCHESTRATOR_PORT: '0',
    WORKER_HEALTH_PORT: '0',
    // Tests drive the reconciler by hand; a timer would race with their assertions.
    RECONCILER_ENABLED: 'false',
    // Every suite calls from 127.0.0.1, i.e. one client: the rate-limit suites turn it on themselves.
    RATE_LIMIT_ENABLED: 'false',
  };
}

/** A validated config for one test app, with overrides (e.g. a dead REDIS_URL). */
export function testConfig(overrides: Record<string, string> = {}): AppEnv {
  return loadConfig({ ...testEnvVars(), ...overrides });
}
