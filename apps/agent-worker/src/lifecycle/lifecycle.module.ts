import { Module } from '@nestjs/common';
import { WorkerLifecycle } from './worker-lifecycle.service';

/** One WorkerLifecycle for the process: every feature module that imports this shares it. */
@Module({
  providers: [WorkerLifecycle],
  exports: [WorkerLifecycle],
})
export class LifecycleModule {}
