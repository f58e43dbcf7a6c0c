import { TaskInsertBatcher } from '@app/db';
import { TASK_QUEUE } from '@app/platform';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { Pool } from 'pg';
import { TaskEventStreams } from './task-event-streams';
import { TaskEventsListener } from './task-events.listener';
import { TaskQueueService } from './task-queue.service';
import { TaskMetrics } from './task.metrics';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';
import { TenantQuota } from './tenant-quota';
import { WaiterBudget } from './waiter-budget';

@Module({
  imports: [BullModule.registerQueue({ name: TASK_QUEUE })],
  controllers: [TasksController],
  providers: [
    { provide: TaskInsertBatcher, inject: [Pool], useFactory: (pool: Pool) => new TaskInsertBatcher(pool) },
    TasksService,
    TaskQueueService,
    TaskEventsListener,
    TaskEventStreams,
    TaskMetrics,
    WaiterBudget,
    TenantQuota,
  ],
  exports: [TaskQueueService, TaskEventsListener, WaiterBudget],
})
export class TasksModule {}
