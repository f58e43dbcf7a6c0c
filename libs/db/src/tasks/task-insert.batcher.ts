import type { Pool } from 'pg';
import type { Task } from '../entities/task.entity';
import { GroupCommitQueue, isRowError } from '../group-commit';
import { runSql, type Queryable } from '../run-sql';
import { TASK_COLUMNS } from './task-columns';

/** A task to insert, as POST /v1/tasks built it; the other columns take their defaults (queued, 0 attempts). */
export type NewTask = Pick<
  Task,
  | 'id'
  | 'personaId'
  | 'taskType'
  | 'input'
  | 'tenant'
  | 'clientId'
  | 'idempotencyKey'
  | 'requestFingerprint'
  | 'requestId'
  | 'callbackUrl'
>;

const COLUMNS = 10;
/** Rows per statement: 10 parameters each, far below Postgres's 65,535-parameter limit. */
export const MAX_INSERT_BATCH = 200;
/**
 * INSERT statements in flight at once (requests arriving meanwhile wait for the next one). It
 * bounds the Postgres backends a burst of creates wakes on a box with two cores; on its own its
 * effect was within the run-to-run spread (docs/PERFORMANCE.md).
 */
export const MAX_INSERTS_IN_FLIGHT = 2;

/*
 * One statement inserts a whole batch. Joining personas makes a row for an unknown or archived
 * persona (or another tenant's) insert nothing, and ON CONFLICT DO NOTHING makes a repeated Idempotency-Key insert
 * nothing (also when two rows of one batch share a key), so no row can fail the others: each
 * caller learns from RETURNING whether its row went in.
 */
function insertSql(rows: number): string {
  const values = Array.from({ length: rows }, (_, r) => {
    const p = (c: number) => `$${r * COLUMNS + c}`;
    return `(${p(1)}::uuid, ${p(2)}::varchar, ${p(3)}::varchar, ${p(4)}::jsonb, ${p(5)}::varchar, ${p(6)}::varchar, ${p(7)}::char(64), ${p(8)}::varchar, ${p(9)}::text, ${p(10)}::varchar, ${r})`;
  }).join(',\n    ');
  return `
  INSERT INTO tasks (id, persona_id, task_type, input, client_id, idempotency_key, request_fingerprint, request_id, callback_url, tenant)
  SELECT v.id, p.id, v.task_type, v.input, v.client_id, v.idempotency_key, v.fingerprint, v.request_id, v.callback_url, v.tenant
  FROM (VALUES
    ${values}
  ) AS v(id, persona_id, task_type, input, client_id, idempotency_key, fingerprint, request_id, callback_url, tenant, ord)
  JOIN personas p ON p.id = v.persona_id AND p.archived_at IS NULL AND (p.tenant IS NULL OR p.tenant = v.tenant)
  ORDER BY v.ord
  ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING ${TASK_COLUMNS}`;
}

/**
 * new -> queued, for a batch in one statement. Returns the rows that went in: a task whose
 * persona is unknown, archived or another tenant's, or whose tenant already used its idempotency
 * key, is missing.
 */
export async function insertTasks(db: Queryable, args: { tasks: NewTask[] }): Promise<Task[]> {
  const params = args.tasks.flatMap((t) => [
    t.id,
    t.personaId,
    t.taskType,
    t.input,
    t.clientId,
    t.idempotencyKey,
    t.requestFingerprint,
    t.requestId,
    t.callbackUrl,
    t.tenant,
  ]);
  const { rows } = await runSql<Task>(db, insertSql(args.tasks.length), params);
  return rows;
}

/**
 * Group commit (GroupCommitQueue) of POST /v1/tasks's insert: on a 2-core box Postgres burned
 * about as much CPU as the orchestrator itself on single-row inserts. A row Postgres refuses (a
 * value validation let through) fails only its own request: the batch is re-run one row at a time.
 */
export class TaskInsertBatcher {
  private readonly queue: GroupCommitQueue<NewTask, Task>;

  constructor(pool: Pool) {
    this.queue = new GroupCommitQueue<NewTask, Task>({
      key: (task) => task.id,
      maxBatch: MAX_INSERT_BATCH,
      maxInFlight: MAX_INSERTS_IN_FLIGHT,
      isRowError,
      execute: async (tasks) => {
        const rows = await insertTasks(pool, { tasks });
        return new Map(rows.map((row) => [row.id, row]));
      },
    });
  }

  /** Inserts the task; resolves with its row, or null when the persona is unusable or the key was taken. */
  insert(task: NewTask): Promise<Task | null> {
    return this.queue.submit(task);
  }
}
