import { Module } from '@nestjs/common';
import { WorkerQueuesModule } from '../queues/worker-queues.module';
import { WorkerLifecycle } from './worker-lifecycle.service';

@Module({
  imports: [WorkerQueuesModule],
  providers: [WorkerLifecycle],
  exports: [WorkerLifecycle],
})
export class LifecycleModule {}
