import type { Pool } from 'pg';
import { eventually, request } from './http';

export interface TaskRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  request_id: string | null;
}

/** Creates a task through the real API and returns its id. */
export async function createTask(
  apiUrl: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await request(apiUrl, 'POST', '/v1/tasks', {
    body: { task_type: 'generate_post', ...body },
    headers,
  });
  if (res.status !== 202) throw new Error(`create task: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Creates `count` tasks, a few at a time. */
export async function createTasks(
  apiUrl: string,
  count: number,
  body: (i: number) => Record<string, unknown>,
): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        ids[i] = await createTask(apiUrl, body(i));
      }
    }),
  );
  return ids;
}

export async function taskRow(pool: Pool, id: string): Promise<TaskRow> {
  const { rows } = await pool.query(
    'SELECT id, status, attempts, last_error, request_id FROM tasks WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** Waits until the task is in one of `statuses`. */
export function waitForStatus(
  pool: Pool,
  id: string,
  statuses: string[],
  timeoutMs = 15000,
): Promise<TaskRow> {
  return eventually(
    async () => {
      const row = await taskRow(pool, id);
      return statuses.includes(row.status) ? row : undefined;
    },
    timeoutMs,
    50,
  );
}

/** Counts of the given tasks by status, and their posts. */
export async function progress(
  pool: Pool,
  ids: string[],
): Promise<{ byStatus: Record<string, number>; posts: number; postTasks: number }> {
  const { rows } = await pool.query(
    'SELECT status, count(*)::int AS n FROM tasks WHERE id = ANY($1) GROUP BY status',
    [ids],
  );
  const posts = await pool.query(
    'SELECT count(*)::int AS n, count(DISTINCT task_id)::int AS tasks FROM posts WHERE task_id = ANY($1)',
    [ids],
  );
  return {
    byStatus: Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n])),
    posts: posts.rows[0].n,
    postTasks: posts.rows[0].tasks,
  };
}
