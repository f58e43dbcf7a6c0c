import { AppConfig } from '@app/platform';
import type { BullModuleOptions } from '@nestjs/bull';

/**
 * After a Redis error Bull's processing loop waits this long before fetching again (default
 * 5 s); with a reconnect back-off capped at WORKER_REDIS_RECONNECT_MAX_MS, the worker is back to
 * work about two seconds after Redis is.
 */
const RETRY_PROCESS_DELAY_MS = 1000;

type BackoffStrategy = (attemptsMade: number, err: Error) => number;

/**
 * Settings every queue the worker consumes shares: job locks and their renewal, the stalled-job
 * check, the reconnect back-off, and the queue's own backoff strategies (named in its job options).
 */
export function workerQueueOptions(
  config: AppConfig,
  backoffStrategies: Record<string, BackoffStrategy>,
): BullModuleOptions {
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
  };
}
