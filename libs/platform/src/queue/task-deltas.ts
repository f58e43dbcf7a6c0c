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

/**
 * A status change of the task, published on the same channel and kept in the same stream as its
 * deltas (so one subscription and one replay cursor serve both): `task` is the task JSON exactly as
 * GET /v1/tasks/:id returns it after the change. Published by whoever made the change (the worker;
 * the orchestrator on cancel and retry), after its commit.
 */
export interface TaskStatusMessage<TaskJson = unknown> {
  /** As TaskDeltaMessage.id. */
  id: string;
  task: TaskJson;
}

/** What a task's channel and stream carry. */
export type TaskStreamMessage<TaskJson = unknown> = TaskDeltaMessage | TaskStatusMessage<TaskJson>;

export function isStatusMessage<T>(message: TaskStreamMessage<T>): message is TaskStatusMessage<T> {
  return 'task' in message;
}

/**
 * One round trip per message: append it to the task's capped stream (the replay buffer; its entry
 * id becomes the message id), push the stream's expiry back, and publish the message with that id.
 * KEYS[1] the stream; ARGV: the message's JSON object without `id` (the script splices the id in
 * front of its fields), the channel, the stream's MAXLEN, the expiry in ms.
 */
export const PUBLISH_TASK_STREAM_LUA = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[2], '{"id":"' .. id .. '",' .. string.sub(ARGV[1], 2))
return id`;

/** Compares two stream entry ids ("<ms>-<n>"): negative, 0 or positive, as a - b. */
export function compareStreamIds(a: string, b: string): number {
  const [am, an] = a.split('-').map(Number);
  const [bm, bn] = b.split('-').map(Number);
  return am !== bm ? am - bm : (an ?? 0) - (bn ?? 0);
}

/** Redis pub/sub channel of a task's live deltas and status changes. */
export function taskDeltasChannel(prefix: string, taskId: string): string {
  return `${prefix}:task-deltas:${taskId}`;
}

/** Capped Redis Stream holding a task's recent deltas and status changes, for a consumer that reconnects (Last-Event-ID). */
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
