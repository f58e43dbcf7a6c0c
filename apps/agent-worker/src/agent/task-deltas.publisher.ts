import type { TaskJson } from '@app/db';
import {
  AppConfig,
  newId,
  PUBLISH_TASK_STREAM_LUA,
  TASK_DELTAS_STREAM_MAX,
  taskDeltasChannel,
  taskDeltasStream,
  type DeltaField,
} from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { LogThrottle } from '../lifecycle/log-throttle';

/** Publish errors (Redis unreachable) are logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 5000;

interface DeltaRedis extends Redis {
  publishTaskDelta(
    stream: string,
    message: string,
    channel: string,
    maxLen: number,
    ttlMs: number,
  ): Promise<string>;
}

interface Pending {
  field: DeltaField;
  offset: number;
  text: string;
}

/**
 * The deltas of one run of a task's job. Pieces arriving within WORKER_DELTA_FLUSH_MS of each other
 * go out as one message; a retried call (its pieces start again at offset 0) supersedes what was
 * gathered and not yet sent. Publishing never fails the task: deltas are a live view, the post is
 * the result.
 */
export class TaskDeltaRun {
  /** Identifies this run in every message: a consumer that sees a new one starts over. */
  readonly run = newId();
  private seq = 0;
  private pending: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (message: string) => void,
    private readonly flushMs: number,
  ) {}

  push(field: DeltaField, text: string, offset: number): void {
    const p = this.pending;
    if (p && p.field === field && offset >= p.offset && offset <= p.offset + p.text.length) {
      p.text = p.text.slice(0, offset - p.offset) + text;
    } else {
      // An earlier offset of the same field (a retry) makes the gathered text void; anything else
      // (the next field) goes out first, in order.
      if (p && !(p.field === field && offset < p.offset)) this.flush();
      this.pending = { field, offset, text };
    }
    if (this.flushMs === 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Sends what was gathered now (at the end of a call, so that nothing waits for the timer). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const p = this.pending;
    this.pending = null;
    if (!p || p.text === '') return;
    this.seq += 1;
    this.send(
      JSON.stringify({ run: this.run, seq: this.seq, field: p.field, offset: p.offset, text: p.text }),
    );
  }
}

/**
 * Relays the model's output (and the task's status changes) to Redis as it streams: one pub/sub
 * channel per task for live consumers, and a capped stream per task (expiring WORKER_DELTA_REPLAY_TTL_S after its last
 * delta) so that a consumer that reconnects can resume without repeats. Never a database write per
 * token. Its own connection, with auto-pipelining (the deltas of many tasks share a write) and no
 * offline queue (while Redis is away, deltas are dropped, not hoarded).
 */
@Injectable()
export class TaskDeltaPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskDeltaPublisher.name);
  private readonly redis: DeltaRedis;
  private readonly prefix: string;
  private readonly flushMs: number;
  private readonly ttlMs: number;
  private readonly errors = new LogThrottle(ERROR_LOG_INTERVAL_MS);

  constructor(config: AppConfig) {
    this.prefix = config.get('QUEUE_PREFIX');
    this.flushMs = config.get('WORKER_DELTA_FLUSH_MS');
    this.ttlMs = config.get('WORKER_DELTA_REPLAY_TTL_S') * 1000;
    const reconnectMax = config.get('WORKER_REDIS_RECONNECT_MAX_MS');
    this.redis = new Redis(config.get('REDIS_URL'), {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, reconnectMax),
    }) as DeltaRedis;
    this.redis.defineCommand('publishTaskDelta', { numberOfKeys: 1, lua: PUBLISH_TASK_STREAM_LUA });
    this.redis.on('error', (err: Error) => this.warn(err));
  }

  /** The deltas of one run of the task's job. */
  open(taskId: string): TaskDeltaRun {
    return new TaskDeltaRun((message) => this.publish(taskId, message), this.flushMs);
  }

  /** A status change: the task JSON as GET returns it after the change (TaskStatusMessage). */
  status(task: TaskJson): void {
    this.publish(task.id, JSON.stringify({ task }));
  }

  private publish(taskId: string, message: string): void {
    this.redis
      .publishTaskDelta(
        taskDeltasStream(this.prefix, taskId),
        message,
        taskDeltasChannel(this.prefix, taskId),
        TASK_DELTAS_STREAM_MAX,
        this.ttlMs,
      )
      .catch((err: Error) => this.warn(err));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private warn(err: Error): void {
    this.errors.run((suppressed) =>
      this.logger.warn({ err: err.message, suppressed }, 'could not publish task deltas'),
    );
  }
}
