import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

@Injectable()
export class ReconcilerMetrics {
  readonly requeued: Counter<'status'>;

  constructor(registry: Registry) {
    this.requeued = new Counter({
      name: 'reconciler_requeued_total',
      help:
        'Tasks the reconciler queued again because Redis had no live job for them, by the status they were found in ' +
        '(queued: the job was lost before it ran; running: its worker died and the job vanished).',
      labelNames: ['status'],
      registers: [registry],
    });
  }
}
