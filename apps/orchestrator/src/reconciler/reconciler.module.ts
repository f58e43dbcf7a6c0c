import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module';
import { ReconcilerMetrics } from './reconciler.metrics';
import { ReconcilerService } from './reconciler.service';

@Module({
  imports: [TasksModule],
  providers: [ReconcilerMetrics, ReconcilerService],
  exports: [ReconcilerService],
})
export class ReconcilerModule {}
