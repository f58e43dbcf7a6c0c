import { TASK_QUEUE, withTimeout } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { Gauge, Registry } from 'prom-client';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
/** A scrape must never hang on a dead Redis; Prometheus' own scrape timeout is 10 s by default. */
const COUNT_TIMEOUT_MS = 1000;

/**
 * Queue depth by state, read with one getJobCounts() per scrape (not per request), and the age of
 * the oldest waiting job (what a client waits before a worker starts). Workers scale on
 * `queue_jobs{state="waiting"}`. Every replica reports the same queue: aggregate with max().
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
    new Gauge({
      name: 'queue_oldest_waiting_job_age_seconds',
      help:
        'Seconds since the oldest job still waiting in the task queue was added (0 when none waits), read at ' +
        'scrape time. It grows when workers are missing, stuck or too few.',
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          // The wait list's far end holds its oldest job: one LRANGE and one job read per scrape.
          const oldest = await withTimeout(queue.getWaiting(0, 0), COUNT_TIMEOUT_MS, 'oldest waiting job');
          const added = oldest.filter(Boolean).map((job) => job.timestamp);
          const ageS = added.length > 0 ? Math.max(0, (Date.now() - Math.min(...added)) / 1000) : 0;
          this.set({ queue: TASK_QUEUE }, ageS);
        } catch (err) {
          logger.warn({ err: String(err) }, 'oldest waiting job unavailable for this scrape');
        }
      },
    });
  }
}
