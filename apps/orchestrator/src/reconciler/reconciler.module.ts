import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module';
import { ReconcilerService } from './reconciler.service';

@Module({
  imports: [TasksModule],
  providers: [ReconcilerService],
  exports: [ReconcilerService],
})
export class ReconcilerModule {}
