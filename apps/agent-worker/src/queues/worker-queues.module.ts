import { AppConfig, TASK_BACKOFF_STRATEGY, TASK_QUEUE } from '@app/platform';
import { BullModule, type BullModuleOptions } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { BreakerOpenDeferral, RetryableAttemptError } from '../agent/task-errors';
import { breakerDeferralDelay, jitteredExponential } from '../retry/backoff';
import {
  WEBHOOK_BACKOFF_MAX_MS,
  WEBHOOK_BACKOFF_STRATEGY,
  WEBHOOK_QUEUE,
} from '../webhooks/webhook.constants';

/**
 * After a Redis error Bull's processing loop waits this long before fetching again (default
 * 5 s); with a reconnect back-off capped at WORKER_REDIS_RECONNECT_MAX_MS, the worker is back to
 * work about two seconds after Redis is.
 */
const RETRY_PROCESS_DELAY_MS = 1000;

/**
 * The task queue's backoff strategy (named in every run-task job's options). Bull passes the
 * error the processor threw, so the delay follows what happened:
 *  - breaker open: at least the breaker's reset timeout (the job was not attempted);
 *  - failed attempt: exponential with jitter on the real attempt number (deferrals excluded),
 *    never shorter than the downstream's Retry-After.
 */
export function taskBackoff(config: AppConfig): (attemptsMade: number, err: Error) => number {
  const base = config.get('WORKER_BACKOFF_BASE_MS');
  const max = config.get('WORKER_BACKOFF_MAX_MS');
  return (attemptsMade, err) => {
    if (err instanceof BreakerOpenDeferral)
      return breakerDeferralDelay(config.get('LLM_BREAKER_RESET_TIMEOUT_MS'));
    if (err instanceof RetryableAttemptError) {
      return Math.max(jitteredExponential(err.attempt, base, max), err.retryAfterMs ?? 0);
    }
    return jitteredExponential(attemptsMade, base, max);
  };
}

function queueOptions(config: AppConfig, backoffStrategies: Record<string, (n: number, e: Error) => number>) {
  const lockDuration = config.get('WORKER_LOCK_DURATION_MS');
  const reconnectMax = config.get('WORKER_REDIS_RECONNECT_MAX_MS');
  return {
    settings: {
      lockDuration,
      lockRenewTime: Math.floor(lockDuration / 2),
      stalledInterval: config.get('WORKER_STALLED_INTERVAL_MS'),
      maxStalledCount: config.get('WORKER_MAX_STALLED_COUNT'),
      retryProcessDelay: RETRY_PROCESS_DELAY_MS,
      backoffStrategies,
    },
    // Merged with the root options' url (ioredis options).
    redis: { retryStrategy: (times: number) => Math.min(50 * 2 ** times, reconnectMax) },
  } satisfies BullModuleOptions;
}

/**
 * The worker's queues, registered once (the processors and the health check share the same
 * instances and connections): run-task jobs and webhook deliveries.
 */
@Module({
  imports: [
    BullModule.registerQueueAsync(
      {
        name: TASK_QUEUE,
        inject: [AppConfig],
        useFactory: (config: AppConfig) =>
          queueOptions(config, { [TASK_BACKOFF_STRATEGY]: taskBackoff(config) }),
      },
      {
        name: WEBHOOK_QUEUE,
        inject: [AppConfig],
        useFactory: (config: AppConfig) => {
          const base = config.get('WEBHOOK_BACKOFF_BASE_MS');
          return queueOptions(config, {
            [WEBHOOK_BACKOFF_STRATEGY]: (attemptsMade: number) =>
              jitteredExponential(attemptsMade, base, WEBHOOK_BACKOFF_MAX_MS),
          });
        },
      },
    ),
  ],
  exports: [BullModule],
})
export class WorkerQueuesModule {}
