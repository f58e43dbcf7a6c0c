import { loadConfig } from '@app/platform';
import { buildDataSourceOptions, buildPoolConfig, splitPoolSize } from './data-source.options';

describe('splitPoolSize', () => {
  it('gives TypeORM a quarter (at least one) and the SQL pool the rest, never more than DB_POOL_MAX together', () => {
    expect(splitPoolSize(30)).toEqual({ typeorm: 7, sql: 23 });
    expect(splitPoolSize(2)).toEqual({ typeorm: 1, sql: 1 });
    expect(splitPoolSize(5)).toEqual({ typeorm: 1, sql: 4 });
    for (let total = 2; total <= 1000; total++) {
      const { typeorm, sql } = splitPoolSize(total);
      expect([typeorm + sql, typeorm >= 1, sql >= 1]).toEqual([total, true, true]);
    }
  });

  it('refuses a total that cannot give each pool a connection', () => {
    expect(() => splitPoolSize(1)).toThrow(
      'DB_POOL_MAX must be an integer >= 2 (one connection per pool), got 1',
    );
  });
});

describe('pool settings', () => {
  it('TypeORM and the SQL pool are configured from the same values', () => {
    const env = loadConfig({
      DATABASE_URL: 'postgres://u:p@db.example:5432/app',
      DB_POOL_ACQUIRE_TIMEOUT_MS: '1234',
      DB_POOL_IDLE_TIMEOUT_MS: '5678',
      DB_POOL_MAX_LIFETIME_S: '99',
      DB_STATEMENT_TIMEOUT_MS: '4321',
    });
    expect(buildPoolConfig(env, 'app-x', 6)).toEqual({
      connectionString: 'postgres://u:p@db.example:5432/app',
      application_name: 'app-x',
      max: 6,
      connectionTimeoutMillis: 1234,
      idleTimeoutMillis: 5678,
      maxLifetimeSeconds: 99,
      statement_timeout: 4321,
    });
    expect(buildDataSourceOptions(env, 'app-x', 2)).toMatchObject({
      url: 'postgres://u:p@db.example:5432/app',
      applicationName: 'app-x',
      poolSize: 2,
      connectTimeoutMS: 1234,
      extra: { idleTimeoutMillis: 5678, maxLifetimeSeconds: 99, statement_timeout: 4321 },
    });
  });
});
