import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';

/** Creates the database named in `url` when it does not exist yet (connecting to the server's "postgres" db). */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) {
    throw new Error(`DATABASE_URL names database "${name}": use letters, digits, "_" and "-" only`);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Two processes starting at once may both try; the loser sees duplicate_database.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}

/** Applies pending migrations; returns the names of those applied. */
export async function runMigrations(options: DataSourceOptions): Promise<string[]> {
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}

/** The database DATABASE_URL names does not exist; the message is the whole story, one line. */
export class MissingDatabaseError extends Error {
  constructor(name: string, host: string) {
    super(
      `Database "${name}" does not exist on ${host} (DATABASE_URL). Create it and apply the migrations with \`node dist/libs/db/src/migrate.js\` (\`npm start\` runs it first; in Docker and Kubernetes, the migrate service or Job).`,
    );
    this.name = 'MissingDatabaseError';
  }
}

/**
 * Connects once and throws a MissingDatabaseError when the server says the database does not
 * exist (SQLSTATE 3D000): retrying cannot fix that, and the driver's own error would reach the
 * operator as a stack trace and an object dump. Any other failure (Postgres not up yet, ...) is
 * left to the app's own connection retries.
 */
export async function assertDatabaseExists(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    if ((err as { code?: string }).code === '3D000') {
      const target = new URL(url);
      throw new MissingDatabaseError(decodeURIComponent(target.pathname.replace(/^\//, '')), target.host);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
