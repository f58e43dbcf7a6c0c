import type { TaskStatus } from './task-status';
import { Task, type TaskInput } from './task.entity';

/** Every column of `tasks`, for hand-written statements (which never use `*`; see runSql). */
export const TASK_COLUMNS =
  'id, persona_id, task_type, input, status, attempts, last_error, client_id, idempotency_key, ' +
  'request_fingerprint, request_id, callback_url, created_at, started_at, finished_at, updated_at';

/** A `tasks` row as raw SQL (`RETURNING ${TASK_COLUMNS}`) gives it back. */
export interface TaskRow {
  id: string;
  persona_id: string;
  task_type: string;
  input: TaskInput;
  status: TaskStatus;
  attempts: number;
  last_error: string | null;
  client_id: string;
  idempotency_key: string | null;
  request_fingerprint: string | null;
  request_id: string | null;
  callback_url: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/**
 * Maps a raw row to the entity. The hot paths use hand-written SQL (one round trip for
 * INSERT ... SELECT ... ON CONFLICT, UPDATE ... RETURNING) that the query builder cannot express.
 */
export function taskFromRow(row: TaskRow): Task {
  return Object.assign(new Task(), {
    id: row.id,
    personaId: row.persona_id,
    taskType: row.task_type,
    input: row.input,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    clientId: row.client_id,
    idempotencyKey: row.idempotency_key,
    requestFingerprint: row.request_fingerprint,
    requestId: row.request_id,
    callbackUrl: row.callback_url,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  });
}
