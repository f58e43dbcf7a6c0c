import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import type { AcceptedTask } from './engine';
import { HttpClient } from './http-client';
import { encodeHistogram, latencySummary, newHistogram, type LatencySummary } from './stats';

/**
 * End-to-end check after the load: every task the API accepted is followed until it is terminal (or the
 * drain deadline passes). Through Postgres when the runner knows DATABASE_URL (cheap, and it can count
 * posts per task exactly), otherwise through the API (task list, then long-polls, then the posts list).
 */
export interface TaskCheck {
  method: 'postgres' | 'api' | 'none';
  accepted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Not terminal by the deadline, or not found at all: must be 0. */
  lost: number;
  /** Accepted (202 with an id) but absent from the database / a 404 from the API. */
  missing: number;
  /** Still queued or running at the deadline. */
  unfinished: number;
  /** Tasks with more than one post, plus creates answered with an id another create already got: must be 0. */
  duplicates: number;
  /** Succeeded tasks without a post (an integrity bug): must be 0. */
  succeededWithoutPost: number;
  /** Server side: finished_at - created_at of succeeded tasks. */
  completionMs: LatencySummary;
  completionHistogram?: string;
  /** Seconds from the end of the load until the last task was terminal (or the deadline). */
  drainSeconds: number;
  /** Why tasks were not followed, or what limited the check. */
  note?: string;
}

interface TaskState {
  status: string;
  posts: number | null;
  completionMs: number | null;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export function emptyTaskCheck(accepted: number, note: string): TaskCheck {
  return {
    method: 'none',
    accepted,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    lost: 0,
    missing: 0,
    unfinished: 0,
    duplicates: 0,
    succeededWithoutPost: 0,
    completionMs: latencySummary(newHistogram()),
    drainSeconds: 0,
    note,
  };
}

/** Pure: the figures from the final state of every accepted task (undefined = never found). */
export function tallyTasks(
  ids: readonly string[],
  states: ReadonlyMap<string, TaskState>,
  duplicateAccepts: number,
): Omit<TaskCheck, 'method' | 'drainSeconds' | 'note'> {
  const hist = newHistogram();
  const t = {
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    missing: 0,
    unfinished: 0,
    duplicates: duplicateAccepts,
    succeededWithoutPost: 0,
  };
  for (const id of ids) {
    const s = states.get(id);
    if (!s) {
      t.missing++;
      continue;
    }
    if (s.status === 'succeeded') {
      t.succeeded++;
      if (s.completionMs !== null) hist.recordValue(Math.max(1, Math.round(s.completionMs * 1000)));
      if (s.posts === 0) t.succeededWithoutPost++;
    } else if (s.status === 'failed') t.failed++;
    else if (s.status === 'cancelled') t.cancelled++;
    else t.unfinished++;
    if (s.posts !== null && s.posts > 1) t.duplicates++;
  }
  return {
    accepted: ids.length,
    ...t,
    lost: t.missing + t.unfinished,
    completionMs: latencySummary(hist),
    completionHistogram: hist.totalCount ? encodeHistogram(hist) : undefined,
  };
}

export interface FollowOptions {
  accepted: readonly AcceptedTask[];
  duplicateAccepts: number;
  deadlineMs: number;
  log: (line: string) => void;
}

export async function followViaPostgres(databaseUrl: string, o: FollowOptions): Promise<TaskCheck> {
  const started = Date.now();
  const pool = new Pool({ connectionString: databaseUrl, max: 2, application_name: 'load-test-check' });
  const ids = o.accepted.map((a) => a.id);
  const states = new Map<string, TaskState>();
  let pending = ids;
  try {
    for (let round = 0; ; round++) {
      const stillPending: string[] = [];
      for (let i = 0; i < pending.length; i += 5000) {
        const chunk = pending.slice(i, i + 5000);
        const { rows } = await pool.query<{
          id: string;
          status: string;
          posts: number;
          completion_ms: number | null;
        }>(
          `SELECT t.id::text AS id, t.status,
                  (SELECT count(*)::int FROM posts p WHERE p.task_id = t.id) AS posts,
                  EXTRACT(EPOCH FROM (t.finished_at - t.created_at)) * 1000 AS completion_ms
           FROM tasks t WHERE t.id = ANY($1::uuid[])`,
          [chunk],
        );
        const found = new Set<string>();
        for (const r of rows) {
          found.add(r.id);
          states.set(r.id, {
            status: r.status,
            posts: r.posts,
            completionMs: r.completion_ms === null ? null : Number(r.completion_ms),
          });
          if (!TERMINAL.has(r.status)) stillPending.push(r.id);
        }
        for (const id of chunk) if (!found.has(id)) stillPending.push(id);
      }
      pending = stillPending;
      if (pending.length === 0 || Date.now() >= o.deadlineMs) break;
      if (round % 10 === 0) o.log(`  waiting for ${pending.length} task(s) to finish...`);
      await sleep(500);
    }
    // Terminal rows were counted when they turned terminal; count posts again for them now, since a
    // duplicate post written by a late second run would only appear after that.
    for (let i = 0; i < ids.length; i += 5000) {
      const { rows } = await pool.query<{ task_id: string; n: number }>(
        `SELECT task_id::text, count(*)::int AS n FROM posts WHERE task_id = ANY($1::uuid[]) GROUP BY task_id`,
        [ids.slice(i, i + 5000)],
      );
      for (const r of rows) {
        const s = states.get(r.task_id);
        if (s) s.posts = r.n;
      }
    }
  } finally {
    await pool.end();
  }
  return {
    method: 'postgres',
    ...tallyTasks(ids, states, o.duplicateAccepts),
    drainSeconds: (Date.now() - started) / 1000,
  };
}

interface TaskBody {
  id: string;
  status: string;
  created_at: string;
  finished_at: string | null;
  post?: unknown;
}

export interface ApiFollowOptions extends FollowOptions {
  target: string;
  apiKey?: string;
  persona: string;
  /** Wall-clock start of the run: list pages older than this are not ours. */
  runStartedAt: Date;
}

export async function followViaApi(o: ApiFollowOptions): Promise<TaskCheck> {
  const started = Date.now();
  const client = new HttpClient(o.target, 16);
  const headers: Record<string, string> = o.apiKey ? { 'x-api-key': o.apiKey } : {};
  const ids = o.accepted.map((a) => a.id);
  const ours = new Set(ids);
  const states = new Map<string, TaskState>();
  const since = new Date(o.runStartedAt.getTime() - 5000).toISOString();
  const record = (t: TaskBody): void => {
    const completion = t.finished_at ? Date.parse(t.finished_at) - Date.parse(t.created_at) : null;
    states.set(t.id, {
      status: t.status,
      posts: null,
      completionMs: t.status === 'succeeded' ? completion : null,
    });
  };
  const getJson = async <T>(path: string, timeoutMs = 15000): Promise<{ status: number; body?: T }> => {
    const res = await client.send({ method: 'GET', path, headers, timeoutMs });
    if (res.status !== 200) return { status: res.status };
    return { status: 200, body: JSON.parse(res.body) as T };
  };
  let note: string | undefined;
  try {
    // 1. One sweep of the list endpoint: 100 tasks per request instead of one.
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({
        persona_id: o.persona,
        created_after: since,
        limit: '100',
        ...(cursor ? { cursor } : {}),
      });
      const page: { status: number; body?: { data: TaskBody[]; next_cursor: string | null } } = await getJson(
        `/v1/tasks?${q}`,
      );
      if (!page.body) break;
      for (const t of page.body.data) if (ours.has(t.id)) record(t);
      cursor = page.body.next_cursor;
    } while (cursor && Date.now() < o.deadlineMs);

    // 2. Long-poll whatever is not terminal yet, 16 at a time.
    const notFound = new Set<string>();
    let pending = ids.filter((id) => !TERMINAL.has(states.get(id)?.status ?? ''));
    while (pending.length && Date.now() < o.deadlineMs) {
      o.log(`  waiting for ${pending.length} task(s) to finish (API long-poll)...`);
      const queue = [...pending];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let id = queue.pop(); id; id = queue.pop()) {
            const wait = Math.max(0, Math.min(10, Math.floor((o.deadlineMs - Date.now()) / 1000)));
            const res = await getJson<TaskBody>(`/v1/tasks/${id}?wait=${wait}`, (wait + 10) * 1000);
            if (res.status === 404) notFound.add(id);
            else if (res.body) {
              notFound.delete(id);
              record(res.body);
            }
          }
        }),
      );
      pending = ids.filter((id) => !notFound.has(id) && !TERMINAL.has(states.get(id)?.status ?? ''));
    }

    // 3. Posts per task, from the posts list (newest first) down to the start of the run.
    const counts = new Map<string, number>();
    let complete = false;
    cursor = null;
    for (;;) {
      const q = new URLSearchParams({ persona_id: o.persona, limit: '100', ...(cursor ? { cursor } : {}) });
      const page: {
        status: number;
        body?: { data: { task_id: string; created_at: string }[]; next_cursor: string | null };
      } = await getJson(`/v1/posts?${q}`);
      if (!page.body) break;
      for (const p of page.body.data)
        if (ours.has(p.task_id)) counts.set(p.task_id, (counts.get(p.task_id) ?? 0) + 1);
      const last = page.body.data[page.body.data.length - 1];
      cursor = page.body.next_cursor;
      if (!cursor || (last && last.created_at < since)) {
        complete = true;
        break;
      }
      if (Date.now() >= o.deadlineMs + 30000) break;
    }
    if (complete) for (const [id, s] of states) s.posts = counts.get(id) ?? 0;
    else note = 'posts list not read to the end: duplicate and missing-post counts are not checked';
  } finally {
    await client.destroy();
  }
  return {
    method: 'api',
    ...tallyTasks(ids, states, o.duplicateAccepts),
    drainSeconds: (Date.now() - started) / 1000,
    note,
  };
}
