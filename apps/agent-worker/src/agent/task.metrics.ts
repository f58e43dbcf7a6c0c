import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';

export type TaskOutcome = 'succeeded' | 'failed' | 'skipped';
export type AttemptResult = 'success' | 'transient_error' | 'permanent_error' | 'final_error';

/** The worker's task metrics, on the app's registry. */
@Injectable()
export class TaskMetrics {
  readonly completed: Counter<'status'>;
  readonly attempts: Counter<'result'>;
  readonly retries: Counter;
  readonly deferrals: Counter;
  readonly budgetDeferrals: Counter;
  readonly duration: Histogram;
  readonly tokens: Counter<'model' | 'kind'>;

  constructor(registry: Registry) {
    this.completed = new Counter({
      name: 'agent_tasks_completed_total',
      help: 'Run-task jobs finished by this worker: succeeded, failed (for good) or skipped (cancelled, already finished or gone).',
      labelNames: ['status'],
      registers: [registry],
    });
    this.attempts = new Counter({
      name: 'agent_task_attempts_total',
      help: 'Task attempts by result: success, transient_error (will retry), permanent_error (failed at once), final_error (last attempt failed).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'agent_task_retries_total',
      help: 'Failed task attempts scheduled for a retry with backoff.',
      registers: [registry],
    });
    this.deferrals = new Counter({
      name: 'agent_task_breaker_deferrals_total',
      help: 'Jobs put back because the LLM circuit breaker was open (not counted as attempts).',
      registers: [registry],
    });
    this.budgetDeferrals = new Counter({
      name: 'agent_task_budget_deferrals_total',
      help: 'Jobs put back to wait for the provider budget (LLM_BUDGET_MAX_WAIT_MS; not counted as attempts).',
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'agent_task_pipeline_seconds',
      help: 'Time from claiming a task to its post being written (successful attempts).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.tokens = new Counter({
      name: 'llm_tokens_total',
      help: 'LLM tokens of the successful runs of tasks, by model and kind (prompt or completion), as the provider reported them (or as counted when it did not).',
      labelNames: ['model', 'kind'],
      registers: [registry],
    });
    for (const status of ['succeeded', 'failed', 'skipped']) this.completed.inc({ status }, 0);
  }
}
