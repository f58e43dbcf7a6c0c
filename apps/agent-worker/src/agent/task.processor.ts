import { AppConfig, RUN_TASK_JOB, TASK_QUEUE, type RunTaskJobData } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { TaskRunnerService, type RunOutcome } from './task-runner.service';

/**
 * Thin Bull processor: takes run-task jobs and hands them to the runner. Registered with
 * `queue.process` rather than `@Process()` because the concurrency comes from validated config.
 * A thrown error goes back to Bull, which retries with the job's backoff.
 */
@Injectable()
export class TaskProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger(TaskProcessor.name);

  constructor(
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly runner: TaskRunnerService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const concurrency = this.config.get('WORKER_CONCURRENCY');
    void this.queue.process(RUN_TASK_JOB, concurrency, (job) => this.handle(job));
    this.logger.log({ queue: TASK_QUEUE, concurrency }, 'processing jobs');
  }

  async handle(job: Job<RunTaskJobData>): Promise<RunOutcome> {
    try {
      return await this.runner.run(job);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.warn(
        {
          taskId: job.data.taskId,
          requestId: job.data.requestId,
          attempt: job.attemptsMade + 1,
          err: error.message,
        },
        'task attempt failed',
      );
      await this.runner.recordFailure(job, error);
      throw error;
    }
  }
}
