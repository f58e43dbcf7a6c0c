import { Pool } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { testConfig } from './test-env';

/** A plain pg pool on the test database, for setting up preconditions and checking what was written. */
export function testPool(): Pool {
  return new Pool({ connectionString: testConfig().DATABASE_URL, max: 4 });
}

export async function countRows(
  pool: Pool,
  table: 'tasks' | 'posts' | 'personas',
  where = 'TRUE',
  params: unknown[] = [],
): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params);
  return rows[0].n;
}

let counter = 0;
/** A fresh persona id per test so tests never depend on each other's rows. */
export async function createPersona(pool: Pool, prefix = 'p'): Promise<string> {
  const id = `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`.slice(0, 64);
  await pool.query(
    `INSERT INTO personas (id, name, system_prompt, model, temperature, max_tokens) VALUES ($1, $2, $3, $4, $5, $6)`,
    [id, `Test ${id}`, 'You are a test persona.', 'test-model', 0.5, 200],
  );
  return id;
}

/**
 * Inserts a task whose persona does not exist. The foreign key forbids this state; a replica-role
 * session skips FK triggers to build it anyway.
 */
export async function insertOrphanTask(
  pool: Pool,
  id: string,
  personaId: string,
  input: object,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`SET session_replication_role = replica`);
    await client.query(
      `INSERT INTO tasks (id, persona_id, task_type, input) VALUES ($1, $2, 'generate_post', $3)`,
      [id, personaId, input],
    );
  } finally {
    await client.query(`SET session_replication_role = DEFAULT`);
    client.release();
  }
}

/** Marks a task succeeded with a post, as the worker would; returns the post's id. */
export async function succeedTask(pool: Pool, taskId: string): Promise<string> {
  const { rows } = await pool.query(
    `WITH done AS (
       UPDATE tasks SET status = 'succeeded', attempts = 1, started_at = now(), finished_at = now(), updated_at = now(),
         prompt_tokens = 30, completion_tokens = 12, model = 'test-model'
       WHERE id = $1 RETURNING id, persona_id)
     INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
     SELECT $2, id, persona_id, 'A hook.', 'A body.', 42, 'test-model', 7 FROM done
     RETURNING id`,
    [taskId, uuidv7()],
  );
  if (rows.length !== 1) throw new Error(`task ${taskId} not found`);
  return rows[0].id;
}
