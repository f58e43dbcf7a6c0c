import type { TaskJson, TaskStatus } from '@app/db';
import {
  AppConfig,
  PUBLISH_TASK_STREAM_LUA,
  RUN_TASK_JOB,
  TASK_DELTAS_STREAM_MAX,
  taskDeltasChannel,
  taskCancelChannel,
  taskDeltasStream,
  TASK_QUEUE,
  runTaskJobOptions,
  taskEventsChannel,
  withTimeout,
  type RunTaskJobData,
  type TaskStreamMessage,
} from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';

/** A run-task job's place in Redis; `stuck`: its hash exists but it is in no list. */
export type JobState = 'completed' | 'failed' | 'delayed' | 'active' | 'waiting' | 'paused' | 'stuck';
/** In the order TaskQueueService.jobStates reads them. */
const JOB_STATES: JobState[] = ['completed', 'failed', 'delayed', 'active', 'waiting', 'paused'];

/**
 * The orchestrator's side of the task queue. Postgres is the source of truth, so every
 * method here is best effort with a deadline: when Redis is slow or down the API still
 * answers, and the reconciler adds whatever job is missing later.
 */
@Injectable()
export class TaskQueueService {
  private readonly logger = new Logger(TaskQueueService.name);
  /** Background adds started by enqueueInBackground and not finished yet, by task id. */
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly config: AppConfig,
  ) {}

  /** Adds the run-task job (job id = task id, so a second add is a no-op). False when Redis did not take it in time. */
  async enqueue(taskId: string, requestId: string | null): Promise<boolean> {
    try {
      await withTimeout(
        this.queue.add(RUN_TASK_JOB, { taskId, requestId }, runTaskJobOptions(taskId)),
        this.config.get('ENQUEUE_TIMEOUT_MS'),
        'enqueue',
      );
      return true;
    } catch (err) {
      this.logger.warn({ taskId, err: String(err) }, 'enqueue failed; the reconciler will add the job');
      return false;
    }
  }

  /**
   * Adds the job without making the caller wait: POST /v1/tasks answers 202 once the row is
   * committed (that is what makes the task accepted and never lost), and the add follows. If
   * this process dies in between, the reconciler adds the job, as it does when Redis is down.
   */
  enqueueInBackground(taskId: string, requestId: string | null): void {
    const add: Promise<boolean> = this.enqueue(taskId, requestId).finally(() => {
      if (this.pending.get(taskId) === add) this.pending.delete(taskId);
    });
    this.pending.set(taskId, add);
  }

  /**
   * Resolves when every background add started so far has finished (each is bounded by
   * ENQUEUE_TIMEOUT_MS). Shutdown awaits it after the HTTP server has closed, before the queue's
   * connection does.
   */
  async settled(): Promise<void> {
    await Promise.all(this.pending.values());
  }

  /**
   * Replaces a finished job (failed, or completed and kept) with a fresh one, so a retried task
   * gets a full set of attempts. An active job is left alone: it is already running.
   */
  async requeue(taskId: string, requestId: string | null): Promise<boolean> {
    try {
      await withTimeout(this.removeFinishedJob(taskId), this.config.get('ENQUEUE_TIMEOUT_MS'), 'requeue');
    } catch (err) {
      this.logger.warn(
        { taskId, err: String(err) },
        'could not clear the old job; the reconciler will requeue',
      );
      return false;
    }
    return this.enqueue(taskId, requestId);
  }

  /** Removes a waiting or delayed job. Returns false when there was none or it could not be removed. */
  async remove(taskId: string): Promise<boolean> {
    // A cancel right after the create: let this replica's add land first, then remove it.
    await this.pending.get(taskId);
    try {
      return await withTimeout(
        (async () => {
          const job = await this.queue.getJob(taskId);
          if (!job || (await job.isActive())) return false;
          await job.remove();
          return true;
        })(),
        this.config.get('ENQUEUE_TIMEOUT_MS'),
        'remove job',
      );
    } catch (err) {
      this.logger.warn({ taskId, err: String(err) }, 'could not remove job');
      return false;
    }
  }

  /** Tells the workers that a running task was cancelled: the one running it aborts its LLM call. */
  async cancelRunning(taskId: string): Promise<void> {
    try {
      await withTimeout(
        this.queue.client.publish(taskCancelChannel(this.config.get('QUEUE_PREFIX')), taskId),
        this.config.get('ENQUEUE_TIMEOUT_MS'),
        'publish task cancel',
      );
    } catch (err) {
      this.logger.warn(
        { taskId, err: String(err) },
        'could not tell the workers; the run finishes and writes nothing',
      );
    }
  }

  /** Wakes long-polls waiting on this task (in any orchestrator replica). */
  async announce(taskId: string, status: TaskStatus): Promise<void> {
    try {
      await withTimeout(
        this.queue.client.publish(taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId), status),
        this.config.get('ENQUEUE_TIMEOUT_MS'),
        'publish task event',
      );
    } catch (err) {
      this.logger.warn({ taskId, err: String(err) }, 'could not publish task event');
    }
  }

  /** True when Redis answers a PING within ENQUEUE_TIMEOUT_MS. */
  async ping(): Promise<boolean> {
    try {
      await this.withDeadline(this.queue.client.ping(), 'ping');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Publishes a status change made here (cancel, retry) to the task's event streams, on the same
   * channel and replay stream as the worker's deltas and status changes (TaskStatusMessage).
   */
  async publishStatus(task: TaskJson): Promise<void> {
    const prefix = this.config.get('QUEUE_PREFIX');
    try {
      await withTimeout(
        this.queue.client.eval(
          PUBLISH_TASK_STREAM_LUA,
          1,
          taskDeltasStream(prefix, task.id),
          JSON.stringify({ task }),
          taskDeltasChannel(prefix, task.id),
          TASK_DELTAS_STREAM_MAX,
          this.config.get('WORKER_DELTA_REPLAY_TTL_S') * 1000,
        ) as Promise<unknown>,
        this.config.get('ENQUEUE_TIMEOUT_MS'),
        'publish status event',
      );
    } catch (err) {
      this.logger.warn({ taskId: task.id, err: String(err) }, 'could not publish the status event');
    }
  }

  /**
   * Each task's job state (null when Redis has no job for it), for a page of tasks in one round
   * trip: waiting, active, delayed, paused, completed, failed, or stuck when the job's hash sits
   * in no list. Bull's job.getState() reads the lists one call after another (a job moving
   * between two of them can look stuck) and checks a list with a script that copies the whole
   * list, so a sweep of a large backlog grew with its square. Here each job's keys are read in
   * one MULTI (atomic, so a move never shows as stuck) with LPOS, which scans a list in place.
   * Throws when Redis does not answer within ENQUEUE_TIMEOUT_MS.
   */
  async jobStates(taskIds: string[]): Promise<Map<string, JobState | null>> {
    const q = this.queue;
    const read = (id: string) =>
      q
        .multi()
        .exists(q.toKey(id))
        .zscore(q.toKey('completed'), id)
        .zscore(q.toKey('failed'), id)
        .zscore(q.toKey('delayed'), id)
        .lpos(q.toKey('active'), id)
        .lpos(q.toKey('wait'), id)
        .lpos(q.toKey('paused'), id)
        .exec()
        .then((replies): [string, JobState | null] => {
          if (!replies) throw new Error(`job state of ${id}: transaction aborted`);
          const [exists, ...inLists] = replies.map(([err, value]) => {
            if (err) throw err;
            return value;
          });
          if (!exists) return [id, null];
          const at = inLists.findIndex((v) => v !== null);
          return [id, at === -1 ? 'stuck' : JOB_STATES[at]];
        });
    return new Map(await this.withDeadline(Promise.all(taskIds.map(read)), 'job states'));
  }

  /**
   * Removes the task's job unless a worker holds its lock. True when no job is left. Throws when
   * Redis does not answer in time.
   */
  async discardJob(taskId: string): Promise<boolean> {
    return this.withDeadline(
      (async () => {
        const job = await this.queue.getJob(taskId);
        if (!job) return true;
        try {
          await job.remove();
          return true;
        } catch (err) {
          // Bull refuses ("Could not remove job") while the job is locked; anything else is Redis failing.
          if (err instanceof Error && err.message.startsWith('Could not remove job')) return false;
          throw err;
        }
      })(),
      'discard job',
    );
  }

  /** Adds the run-task job (a no-op when one with the task's id exists). Throws when Redis does not take it in time. */
  async addJob(taskId: string, requestId: string | null): Promise<void> {
    await this.withDeadline(
      this.queue.add(RUN_TASK_JOB, { taskId, requestId }, runTaskJobOptions(taskId)),
      'enqueue',
    );
  }

  private withDeadline<T>(call: Promise<T>, label: string): Promise<T> {
    return withTimeout(call, this.config.get('ENQUEUE_TIMEOUT_MS'), label);
  }

  /**
   * The messages of the task's replay stream after `afterId` (a stream entry id; all of them for
   * none), oldest first: what a reconnecting event stream missed. Throws when Redis is unreachable.
   */
  async replay(taskId: string, afterId: string | null): Promise<TaskStreamMessage<TaskJson>[]> {
    const entries = await withTimeout(
      this.queue.client.xrange(
        taskDeltasStream(this.config.get('QUEUE_PREFIX'), taskId),
        afterId ? `(${afterId}` : '-',
        '+',
      ),
      this.config.get('ENQUEUE_TIMEOUT_MS'),
      'read task stream',
    );
    return entries.map(
      ([id, fields]) => ({ id, ...(JSON.parse(fields[1]) as object) }) as TaskStreamMessage<TaskJson>,
    );
  }

  /** The job's state, or null when Redis has no job for the task. Throws when Redis is unreachable. */
  async jobState(taskId: string): Promise<string | null> {
    const job = await this.queue.getJob(taskId);
    return job ? job.getState() : null;
  }

  private async removeFinishedJob(taskId: string): Promise<void> {
    const job = await this.queue.getJob(taskId);
    if (!job) return;
    if ((await job.isFailed()) || (await job.isCompleted())) await job.remove();
  }
}
