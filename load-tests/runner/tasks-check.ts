import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { HttpClient } from './http-client';
import { encodeHistogram, latencySummary, newHistogram } from './stats';
import type { AcceptedTask, TaskCheck } from './types';

/**
 * The end-to-end check after the load: every task the API accepted is followed until it is terminal (or
 * the drain deadline passes). Through Postgres when the runner has the database URL (cheap, and it counts
 * posts per task exactly), otherwise through the API (task list, long-polls, then the posts list).
 */
interface TaskState {
  status: string;
  posts: number | null;
  completionMs: number | null;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Pure: the figures from the final state of every accepted task (absent = never found). */
export function tallyTasks(
  ids: readonly string[],
  states: ReadonlyMap<string, TaskState>,
  duplicateAccepts: number,
): Omit<TaskCheck, 'method' | 'drainSeconds' | 'note'> {
  const hist = newHistogram();
  const t = { succeeded: 0, failed: 0, cancelled: 0, missing: 0, unfinished: 0, succeededWithoutPost: 0 };
  let duplicates = duplicateAccepts;
  for (const id of ids) {
    const s = states.get(id);
    if (!s) t.missing++;
    else if (s.status === 'succeeded' || s.status === 'failed' || s.status === 'cancelled') t[s.status]++;
    else t.unfinished++;
    if (s?.status === 'succeeded' && s.completionMs !== null)
      hist.recordValue(Math.max(1, Math.round(s.completionMs * 1000)));
    if (s?.status === 'succeeded' && s.posts === 0) t.succeededWithoutPost++;
    if (s?.posts && s.posts > 1) duplicates++;
  }
  return {
    accepted: ids.length,
    ...t,
    duplicates,
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
  const chunks = (xs: string[]): string[][] =>
    Array.from({ length: Math.ceil(xs.length / 5000) }, (_, i) => xs.slice(i * 5000, i * 5000 + 5000));
  try {
    for (let pending = ids, round = 0; pending.length; round++) {
      const still: string[] = [];
      for (const chunk of chunks(pending)) {
        const { rows } = await pool.query<{ id: string; status: string; completion_ms: number | null }>(
          `SELECT id::text AS id, status, EXTRACT(EPOCH FROM (finished_at - created_at)) * 1000 AS completion_ms
           FROM tasks WHERE id = ANY($1::uuid[])`,
          [chunk],
        );
        for (const r of rows) {
          const completionMs = r.completion_ms === null ? null : Number(r.completion_ms);
          states.set(r.id, { status: r.status, posts: 0, completionMs });
        }
        still.push(...chunk.filter((id) => !TERMINAL.has(states.get(id)?.status ?? '')));
      }
      pending = still;
      if (!pending.length || Date.now() >= o.deadlineMs) break;
      if (round % 10 === 0) o.log(`  waiting for ${pending.length} task(s) to finish...`);
      await sleep(500);
    }
    // Posts are counted once everything is terminal: a duplicate written by a late second run shows up.
    for (const chunk of chunks(ids)) {
      const { rows } = await pool.query<{ task_id: string; n: number }>(
        `SELECT task_id::text, count(*)::int AS n FROM posts WHERE task_id = ANY($1::uuid[]) GROUP BY task_id`,
        [chunk],
      );
      for (const r of rows) states.get(r.task_id)!.posts = r.n;
    }
  } finally {
    await pool.end();
  }
  const drainSeconds = (Date.now() - started) / 1000;
  return { method: 'postgres', ...tallyTasks(ids, states, o.duplicateAccepts), drainSeconds };
}

/** The message for a target whose answers do not have the agent-platform API's shape. */
export const notTheApi = (target: string, what: string): Error =>
  new Error(`target ${target} does not answer like the agent-platform API: ${what}`);

interface TaskBody {
  id: string;
  status: string;
  created_at: string;
  finished_at: string | null;
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
    const done = t.status === 'succeeded' && t.finished_at;
    const completionMs = done ? Date.parse(t.finished_at!) - Date.parse(t.created_at) : null;
    states.set(t.id, { status: t.status, posts: null, completionMs });
  };
  const get = async <T>(path: string, timeoutMs = 15000): Promise<{ status: number; body?: T }> => {
    const res = await client.send({ method: 'GET', path, headers, timeoutMs });
    if (res.status !== 200) return { status: res.status };
    try {
      return { status: 200, body: JSON.parse(res.body) as T };
    } catch {
      throw notTheApi(o.target, `GET ${path} answered 200 with a body that is not JSON`);
    }
  };
  /** Every page of a list endpoint, newest first, until `each` says stop; false: a page was refused. */
  const pages = async <T>(path: string, query: Record<string, string>, each: (page: T[]) => boolean) => {
    for (let cursor: string | null = null; ;) {
      const q = new URLSearchParams({
        ...query,
        persona_id: o.persona,
        limit: '100',
        ...(cursor ? { cursor } : {}),
      });
      const page: { body?: { data: T[]; next_cursor: string | null } } = await get(`${path}?${q}`);
      if (!page.body) return false;
      if (!Array.isArray(page.body.data))
        throw notTheApi(o.target, `GET ${path} answered 200 without a data array`);
      cursor = page.body.next_cursor;
      if (!each(page.body.data) || !cursor) return true;
      if (Date.now() >= o.deadlineMs + 30000) return false;
    }
  };
  let note: string | undefined;
  try {
    // 1. One sweep of the task list: 100 tasks per request instead of one.
    await pages<TaskBody>('/v1/tasks', { created_after: since }, (data) => {
      for (const t of data) if (ours.has(t.id)) record(t);
      return Date.now() < o.deadlineMs;
    });
    // 2. Long-poll whatever is not terminal yet, 16 at a time.
    const notFound = new Set<string>();
    const pending = (): string[] =>
      ids.filter((id) => !notFound.has(id) && !TERMINAL.has(states.get(id)?.status ?? ''));
    for (let left = pending(); left.length && Date.now() < o.deadlineMs; left = pending()) {
      o.log(`  waiting for ${left.length} task(s) to finish (API long-poll)...`);
      const poll = async (): Promise<void> => {
        for (let id = left.pop(); id; id = left.pop()) {
          const wait = Math.max(0, Math.min(10, Math.floor((o.deadlineMs - Date.now()) / 1000)));
          const res = await get<TaskBody>(`/v1/tasks/${id}?wait=${wait}`, (wait + 10) * 1000);
          if (res.status === 404) notFound.add(id);
          else if (res.body) record(res.body);
        }
      };
      await Promise.all(Array.from({ length: 16 }, poll));
    }
    // 3. Posts per task, from the posts list (newest first) back to the start of the run.
    const counts = new Map<string, number>();
    const complete = await pages<{ task_id: string; created_at: string }>('/v1/posts', {}, (data) => {
      for (const p of data) if (ours.has(p.task_id)) counts.set(p.task_id, (counts.get(p.task_id) ?? 0) + 1);
      return !data.length || data[data.length - 1].created_at >= since;
    });
    if (complete) for (const [id, s] of states) s.posts = counts.get(id) ?? 0;
    else note = 'posts list not read to the end: duplicate and missing-post counts are not checked';
  } finally {
    await client.destroy();
  }
  const drainSeconds = (Date.now() - started) / 1000;
  return { method: 'api', ...tallyTasks(ids, states, o.duplicateAccepts), drainSeconds, note };
}
