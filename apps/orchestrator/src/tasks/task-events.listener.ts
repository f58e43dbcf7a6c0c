import { AppConfig, taskEventsChannel, withTimeout } from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';

/** One task's wake-up signal for a long-poll. */
export interface TaskSubscription {
  /** Resolves at the next event for the task (or at once if one arrived since the last call), or after `ms`. */
  next(ms: number): Promise<void>;
  close(): void;
}

const SUBSCRIBE_TIMEOUT_MS = 500;

/**
 * Long-poll wake-ups over Redis pub/sub. Only channels someone is waiting on are subscribed,
 * so an orchestrator under create-task load receives no traffic it does not need.
 * Waiters always re-read Postgres after a wake-up and on a timer, so a lost message
 * costs latency, never correctness.
 */
@Injectable()
export class TaskEventsListener implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskEventsListener.name);
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<() => void>>();
  private draining = false;

  constructor(private readonly config: AppConfig) {}

  async subscribe(taskId: string): Promise<TaskSubscription> {
    const channel = taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId);
    let pending = false;
    let wake: (() => void) | null = null;
    const onEvent = () => {
      pending = true;
      wake?.();
    };
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      try {
        await withTimeout(this.connection().subscribe(channel), SUBSCRIBE_TIMEOUT_MS, 'subscribe');
      } catch (err) {
        this.logger.warn(
          { taskId, err: String(err) },
          'task events unavailable; long-poll falls back to re-reading',
        );
      }
    }
    set.add(onEvent);

    return {
      next: (ms) =>
        new Promise<void>((resolve) => {
          if (pending || this.draining) {
            pending = false;
            return resolve();
          }
          const timer = setTimeout(finish, ms);
          function finish() {
            clearTimeout(timer);
            wake = null;
            pending = false;
            resolve();
          }
          wake = finish;
        }),
      close: () => {
        wake?.();
        set.delete(onEvent);
        if (set.size === 0 && this.listeners.get(channel) === set) {
          this.listeners.delete(channel);
          this.subscriber?.unsubscribe(channel).catch(() => undefined);
        }
      },
    };
  }

  /** True once the server is closing: long-polls stop waiting and answer with what they have. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Wakes every waiting long-poll for good (called when the HTTP server starts closing). */
  drain(): void {
    this.draining = true;
    for (const set of this.listeners.values()) for (const listener of set) listener();
  }

  // After the HTTP server has closed (not at module destroy, which comes before the shutdown
  // grace period): long-polls keep their wake-ups while the load balancer drains this replica.
  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private connection(): Redis {
    if (!this.subscriber) {
      this.subscriber = new Redis(this.config.get('REDIS_URL'), {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: true,
        connectionName: 'orchestrator-task-events',
      });
      this.subscriber.on('error', (err) =>
        this.logger.warn({ err: err.message }, 'task events connection error'),
      );
      this.subscriber.on('message', (channel: string) => {
        for (const listener of this.listeners.get(channel) ?? []) listener();
      });
    }
    return this.subscriber;
  }
}
