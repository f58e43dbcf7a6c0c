import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

/** Tasks accepted by this replica (idempotent replays excluded); outcomes are counted by the worker. */
@Injectable()
export class TaskMetrics {
  readonly created: Counter<'task_type'>;

  constructor(registry: Registry) {
    this.created = new Counter({
      name: 'tasks_created_total',
      help: 'Tasks stored and accepted (202), by task type; Idempotency-Key replays are not counted.',
      labelNames: ['task_type'],
      registers: [registry],
    });
  }
}
