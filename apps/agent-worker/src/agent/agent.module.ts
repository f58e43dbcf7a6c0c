import { TaskWriteBatcher } from '@app/db';
import { AppConfig, TASK_BACKOFF_STRATEGY, TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { Pool } from 'pg';
import { workerQueueOptions } from '../common/queue-options';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { LlmModule } from '../llm/llm.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { GuardrailService } from './guardrail.service';
import { taskBackoff } from './task-backoff';
import { TaskCancellations } from './task-cancellations';
import { TaskDeltaPublisher } from './task-deltas.publisher';
import { TaskRunnerService } from './task-runner.service';
import { TaskMetrics } from './task.metrics';
import { TaskProcessor } from './task.processor';

/** The agent pipeline: takes run-task jobs from the task queue, runs them, writes the results. */
@Module({
  imports: [
    BullModule.registerQueueAsync({
      name: TASK_QUEUE,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        workerQueueOptions(config, { [TASK_BACKOFF_STRATEGY]: taskBackoff(config) }),
    }),
    LlmModule,
    LifecycleModule,
    WebhooksModule,
  ],
  providers: [
    TaskMetrics,
    GuardrailService,
    TaskDeltaPublisher,
    TaskCancellations,
    {
      provide: TaskWriteBatcher,
      inject: [Pool, AppConfig],
      // A window makes batches larger than one event-loop turn's: with a fast LLM (the builtin
      // provider) fewer, larger statements took peak-150's p95 from 28-29 to 15-17 ms and kept the
      // worker up with the API (docs/PERFORMANCE.md).
      useFactory: (pool: Pool, config: AppConfig) =>
        new TaskWriteBatcher(pool, { windowMs: config.get('WORKER_WRITE_WINDOW_MS') }),
    },
    TaskRunnerService,
    TaskProcessor,
  ],
})
export class AgentModule {}
