import { AppConfig, taskDeltasChannel, taskEventsChannel, withTimeout } from '@app/platform';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';

/** Called with each message of a channel; with none when the replica starts draining. */
type Listener = (message?: string) => void;

/** One task's wake-up signal for a long-poll. */
export interface TaskSubscription {
  /** Resolves at the next event for the task (or at once if one arrived since the last call), or after `ms`. */
  next(ms: number): Promise<void>;
  close(): void;
}

const SUBSCRIBE_TIMEOUT_MS = 500;

/**
 * Long-poll wake-ups and task event streams over Redis pub/sub, on one subscriber connection per
 * replica however many requests wait. Only channels someone is waiting on are subscribed, so an
 * orchestrator under create-task load receives no traffic it does not need. Waiters always
 * re-read Postgres after a wake-up and on a timer, so a lost message costs latency, never
 * correctness.
 */
@Injectable()
export class TaskEventsListener implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskEventsListener.name);
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();
  private draining = false;

  constructor(private readonly config: AppConfig) {}

  async subscribe(taskId: string): Promise<TaskSubscription> {
    let pending = false;
    let wake: (() => void) | null = null;
    const onEvent = () => {
      pending = true;
      wake?.();
    };
    const close = await this.listen(taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId), onEvent);

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
        close();
      },
    };
  }

  /**
   * Every message on the task's delta channel (deltas and status changes, TaskStreamMessage
   * JSON) goes to `onMessage`, until the returned function is called; `onMessage` is called with
   * none when the replica starts draining. Resolves once subscribed (or once subscribing failed:
   * the caller's re-reads cover that).
   */
  follow(taskId: string, onMessage: Listener): Promise<() => void> {
    return this.listen(taskDeltasChannel(this.config.get('QUEUE_PREFIX'), taskId), onMessage);
  }

  private async listen(channel: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      try {
        await withTimeout(this.connection().subscribe(channel), SUBSCRIBE_TIMEOUT_MS, 'subscribe');
      } catch (err) {
        this.logger.warn(
          { channel, err: String(err) },
          'task events unavailable; waiters fall back to re-reading',
        );
      }
    }
    set.add(listener);
    const listeners = set;
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.listeners.get(channel) === listeners) {
        this.listeners.delete(channel);
        this.subscriber?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** True once the server is closing: long-polls stop waiting and answer with what they have. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Wakes every waiting long-poll and ends every event stream for good (called when the HTTP server starts closing). */
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
      this.subscriber.on('message', (channel: string, message: string) => {
        for (const listener of this.listeners.get(channel) ?? []) listener(message);
      });
    }
    return this.subscriber;
  }
}
