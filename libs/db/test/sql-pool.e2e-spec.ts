import { createSqlPool, DbModule } from '@app/db';
import { PlatformConfigModule } from '@app/platform';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { eventually } from '../../../test/support/http';
import { testConfig } from '../../../test/support/test-env';

describe('the SQL pool', () => {
  // The pool logs the broken idle connection below as a warning: expected here, and not asserted on
  // (jest gives each test file its own Logger, so this silences only this file).
  beforeAll(() => Logger.overrideLogger(false));
  it('takes the DataSource settings: application_name and statement_timeout', async () => {
    const pool = createSqlPool(
      { ...testConfig(), DB_STATEMENT_TIMEOUT_MS: 200 },
      'test-sql-pool-settings',
      2,
    );
    try {
      const { rows } = await pool.query(
        `SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout`,
      );
      expect(rows).toEqual([{ app: 'test-sql-pool-settings', timeout: '200ms' }]);
      await expect(pool.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
    } finally {
      await pool.end();
    }
  });

  it('an exhausted pool fails fast instead of queueing forever', async () => {
    const pool = createSqlPool({ ...testConfig(), DB_POOL_ACQUIRE_TIMEOUT_MS: 300 }, 'test-sql-pool-full', 1);
    try {
      const holder = pool.query('SELECT pg_sleep(2)');
      const started = Date.now();
      await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout exceeded when trying to connect/);
      expect(Date.now() - started).toBeLessThan(1500);
      await holder;
    } finally {
      await pool.end();
    }
  });

  it('survives an idle connection that the server ends, and opens a new one', async () => {
    const pool = createSqlPool(testConfig(), 'test-sql-pool-idle', 2);
    const admin = new Client({ connectionString: testConfig().DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
      expect(pool.idleCount).toBe(1);
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      // The pool drops the broken connection (its 'error' event has a listener, so the process lives on).
      await eventually(async () => (pool.totalCount === 0 ? true : undefined), 5000);
      expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});

describe('DbModule', () => {
  it('splits DB_POOL_MAX between TypeORM and the SQL pool, and ends the SQL pool on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PlatformConfigModule.forRoot(testConfig({ DB_POOL_MAX: '10' })),
        DbModule.forApp('test-db-module'),
      ],
    }).compile();
    const app = await moduleRef.init();
    const pool = app.get(Pool);
    const dataSource = app.get(DataSource);
    expect({ sql: pool.options.max, typeorm: dataSource.options.poolSize }).toEqual({ sql: 8, typeorm: 2 });
    const { rows } = await pool.query(`SELECT current_setting('application_name') AS app`);
    expect(rows).toEqual([{ app: 'test-db-module' }]);

    await app.close();
    expect(pool.ended).toBe(true);
    expect(dataSource.isInitialized).toBe(false);
  });
});
