import { TASK_QUEUE, withTimeout } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { Gauge, Registry } from 'prom-client';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
/** A scrape must never hang on a dead Redis; Prometheus' own scrape timeout is 10 s by default. */
const COUNT_TIMEOUT_MS = 1000;

/**
 * Queue depth by state, read with one getJobCounts() per scrape (not per request). Workers scale
 * on `queue_jobs{state="waiting"}`. Every replica reports the same queue: aggregate with max().
 * When Redis does not answer the series are dropped for that scrape rather than left stale.
 */
@Injectable()
export class QueueMetrics {
  private readonly logger = new Logger(QueueMetrics.name);

  constructor(@InjectQueue(TASK_QUEUE) queue: Queue, registry: Registry) {
    const logger = this.logger;
    new Gauge({
      name: 'queue_jobs',
      help: 'Jobs in the task queue by state (waiting, active, delayed, failed), read at scrape time.',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          const counts = await withTimeout(queue.getJobCounts(), COUNT_TIMEOUT_MS, 'queue job counts');
          for (const state of STATES) this.set({ queue: TASK_QUEUE, state }, counts[state]);
        } catch (err) {
          logger.warn({ err: String(err) }, 'queue depth unavailable for this scrape');
        }
      },
    });
  }
}
