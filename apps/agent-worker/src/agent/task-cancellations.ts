import { AppConfig, taskCancelChannel } from '@app/platform';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { LlmCallCancelledError } from '../llm/llm.errors';
import { LogThrottle } from '../lifecycle/log-throttle';

const ERROR_LOG_INTERVAL_MS = 5000;

/**
 * Cancels the runs of this process whose task the orchestrator cancelled while it was running:
 * one subscription to the cancel channel (taskCancelChannel) for the whole process, and an
 * AbortController per run in flight. The abort reaches the LLM call in flight at once (its request
 * is aborted), so the run ends within a round trip of the cancel. A message lost while Redis is
 * away only means the run goes on: its completion is then refused, as the task is no longer
 * running.
 */
@Injectable()
export class TaskCancellations implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TaskCancellations.name);
  private readonly runs = new Map<string, Set<AbortController>>();
  private readonly subscriber: Redis;
  private readonly channel: string;
  private readonly errors = new LogThrottle(ERROR_LOG_INTERVAL_MS);

  constructor(config: AppConfig) {
    this.channel = taskCancelChannel(config.get('QUEUE_PREFIX'));
    const reconnectMax = config.get('WORKER_REDIS_RECONNECT_MAX_MS');
    this.subscriber = new Redis(config.get('REDIS_URL'), {
      lazyConnect: true,
      connectionName: 'worker-task-cancel',
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, reconnectMax),
    });
    this.subscriber.on('error', (err: Error) =>
      this.errors.run((suppressed) =>
        this.logger.warn({ err: err.message, suppressed }, 'task cancel subscription error'),
      ),
    );
    this.subscriber.on('message', (_channel: string, taskId: string) => this.cancel(taskId));
  }

  onApplicationBootstrap(): void {
    // Not awaited: the worker starts without Redis too; ioredis subscribes again on reconnect.
    this.subscriber
      .subscribe(this.channel)
      .catch((err: Error) =>
        this.errors.run(() => this.logger.warn({ err: err.message }, 'could not subscribe to task cancels')),
      );
  }

  async onApplicationShutdown(): Promise<void> {
    // QUIT would wait for a connection that may never come back (Redis down): only a connected
    // client says goodbye; any other is cut, which also stops its reconnecting.
    if (this.subscriber.status === 'ready')
      await this.subscriber.quit().catch(() => this.subscriber.disconnect());
    else this.subscriber.disconnect();
  }

  /** A signal aborted if the task is cancelled while this run is in flight; call `done` when the run ends. */
  track(taskId: string): { signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    let set = this.runs.get(taskId);
    if (!set) this.runs.set(taskId, (set = new Set()));
    set.add(controller);
    const runs = set;
    return {
      signal: controller.signal,
      done: () => {
        runs.delete(controller);
        if (runs.size === 0 && this.runs.get(taskId) === runs) this.runs.delete(taskId);
      },
    };
  }

  private cancel(taskId: string): void {
    const runs = this.runs.get(taskId);
    if (!runs) return;
    this.logger.log({ taskId, runs: runs.size }, 'task cancelled while running: aborting its run');
    for (const controller of runs) controller.abort(new LlmCallCancelledError('the task was cancelled'));
  }
}
