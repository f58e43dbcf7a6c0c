import { Post, Task } from '@app/db';
import { TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TaskEventsListener } from './task-events.listener';
import { TaskQueueService } from './task-queue.service';
import { TaskMetrics } from './task.metrics';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';
import { TaskInsertBatcher } from './task-insert.batcher';
import { WaiterBudget } from './waiter-budget';

@Module({
  imports: [TypeOrmModule.forFeature([Task, Post]), BullModule.registerQueue({ name: TASK_QUEUE })],
  controllers: [TasksController],
  providers: [
    TaskInsertBatcher,
    TasksService,
    TaskQueueService,
    TaskEventsListener,
    TaskMetrics,
    WaiterBudget,
  ],
  exports: [TaskQueueService, TaskEventsListener, WaiterBudget],
})
export class TasksModule {}
