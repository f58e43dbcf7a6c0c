/**
 * The model's output as it streams, relayed from the worker to whoever shows it live (the
 * orchestrator's task event stream). Never written to Postgres: the post is written once, at the
 * end, as before. docs/worker.md ("Streamed deltas") describes the contract for consumers.
 */

/** The two parts of a post the worker asks the model for, in this order. */
export type DeltaField = 'hook' | 'body';

/**
 * One delta as published on taskDeltasChannel and kept in taskDeltasStream (there without `id`,
 * which is the stream entry's own id).
 */
export interface TaskDeltaMessage {
  /** The entry id in taskDeltasStream ("<ms>-<n>"): increases with every message of the task, across runs. */
  id: string;
  /** One run of the task's job (a UUIDv7); a message with a new run means the earlier text is void. */
  run: string;
  /** 1, 2, ... within a run: a gap means a message was missed (pub/sub drops while disconnected). */
  seq: number;
  field: DeltaField;
  /**
   * Where `text` starts in the field, in UTF-16 code units (JavaScript string length). Below the
   * length already shown, the call was retried and restarted: cut the field there, then append.
   */
  offset: number;
  text: string;
}

/** Redis pub/sub channel of a task's live deltas. */
export function taskDeltasChannel(prefix: string, taskId: string): string {
  return `${prefix}:task-deltas:${taskId}`;
}

/** Capped Redis Stream holding a task's recent deltas, for a consumer that reconnects (Last-Event-ID). */
export function taskDeltasStream(prefix: string, taskId: string): string {
  return `${prefix}:task-deltas-log:${taskId}`;
}

/** Entries a task's delta stream keeps at most (approximate trimming); far more than one run makes. */
export const TASK_DELTAS_STREAM_MAX = 2000;

/**
 * Applies one delta to the text shown so far (idempotent: applying a message twice changes
 * nothing). Returns the new text of `message.field`.
 */
export function applyDelta(shown: string, message: Pick<TaskDeltaMessage, 'offset' | 'text'>): string {
  return shown.slice(0, message.offset) + message.text;
}
