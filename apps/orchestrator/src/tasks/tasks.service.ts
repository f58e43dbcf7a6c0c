import {
  Post,
  Task,
  TASK_COLUMNS,
  isTerminal,
  runSql,
  taskFromRow,
  type TaskInput,
  type TaskRow,
} from '@app/db';
import { ApiError, AppConfig, isUuid, newId } from '@app/platform';
import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import stableStringify from 'fast-json-stable-stringify';
import { createHash } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../common/pagination';
import type { CreateTaskDto } from './dto/create-task.dto';
import type { ListTasksQuery } from './dto/list-tasks.query';
import { TaskDto } from './dto/task.dto';
import { TaskEventsListener } from './task-events.listener';
import { TaskMetrics } from './task.metrics';
import { TaskInsertBatcher } from './task-insert.batcher';
import { TaskQueueService } from './task-queue.service';

export interface CreateContext {
  clientId: string;
  requestId: string;
  idempotencyKey: string | null;
}

export interface CreateResult {
  task: Task;
  /** False when an Idempotency-Key replay returned the task created earlier. */
  created: boolean;
}

@Injectable()
export class TasksService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Task) private readonly tasks: Repository<Task>,
    @InjectRepository(Post) private readonly posts: Repository<Post>,
    private readonly inserts: TaskInsertBatcher,
    private readonly queue: TaskQueueService,
    private readonly events: TaskEventsListener,
    private readonly config: AppConfig,
    private readonly metrics: TaskMetrics,
  ) {}

  async create(dto: CreateTaskDto, ctx: CreateContext): Promise<CreateResult> {
    if (!dto.pain_statement && !dto.trend_snippet && !dto.topic) {
      throw ApiError.validation([
        {
          field: 'pain_statement',
          reason: 'at least one of pain_statement, trend_snippet or topic is required',
        },
      ]);
    }
    if (dto.callback_url !== undefined && !this.config.get('WEBHOOKS_ENABLED')) {
      throw ApiError.validation([
        {
          field: 'callback_url',
          reason: 'webhooks are turned off on this deployment (WEBHOOKS_ENABLED=false)',
        },
      ]);
    }
    const input: TaskInput = {
      ...(dto.pain_statement !== undefined && { pain_statement: dto.pain_statement }),
      ...(dto.trend_snippet !== undefined && { trend_snippet: dto.trend_snippet }),
      ...(dto.topic !== undefined && { topic: dto.topic }),
      ...(dto.extras !== undefined && { extras: dto.extras }),
    };
    const fingerprint = ctx.idempotencyKey
      ? createHash('sha256')
          .update(
            stableStringify({
              persona_id: dto.persona_id,
              task_type: dto.task_type,
              input,
              callback_url: dto.callback_url ?? null,
            }),
          )
          .digest('hex')
      : null;

    const row = await this.inserts.insert({
      id: newId(),
      personaId: dto.persona_id,
      taskType: dto.task_type,
      input,
      clientId: ctx.clientId,
      idempotencyKey: ctx.idempotencyKey,
      fingerprint,
      requestId: ctx.requestId,
      callbackUrl: dto.callback_url ?? null,
    });
    if (row) {
      const task = taskFromRow(row);
      this.metrics.created.inc({ task_type: task.taskType });
      // After the commit, never before: a worker must never see a job whose row is not there yet.
      // Not awaited: the committed row is the acceptance (see enqueueInBackground).
      this.queue.enqueueInBackground(task.id, task.requestId);
      return { task, created: true };
    }

    if (ctx.idempotencyKey) {
      const existing = await this.tasks.findOneBy({
        clientId: ctx.clientId,
        idempotencyKey: ctx.idempotencyKey,
      });
      if (existing) {
        if (existing.requestFingerprint !== fingerprint) {
          throw new ApiError(
            HttpStatus.UNPROCESSABLE_ENTITY,
            `Idempotency-Key "${ctx.idempotencyKey}" was already used with a different request body (task ${existing.id})`,
            [
              {
                field: 'Idempotency-Key',
                reason: 'reused with a different body; use a new key for a new task',
              },
            ],
          );
        }
        return { task: existing, created: false };
      }
    }
    throw new ApiError(
      HttpStatus.UNPROCESSABLE_ENTITY,
      `Persona ${dto.persona_id} does not exist or is archived`,
      [{ field: 'persona_id', reason: `no active persona "${dto.persona_id}"` }],
    );
  }

  /** The task (with its post once succeeded); with waitMs > 0, long-polls until it is terminal or time is up. */
  async get(id: string, waitMs = 0): Promise<TaskDto> {
    let task = await this.findOrFail(id);
    if (waitMs > 0 && !isTerminal(task.status)) {
      const deadline = Date.now() + waitMs;
      // Subscribe before re-reading, so a completion between the read and the subscription is not missed.
      const subscription = await this.events.subscribe(id);
      try {
        for (;;) {
          task = await this.findOrFail(id);
          const remaining = deadline - Date.now();
          if (isTerminal(task.status) || remaining <= 0 || this.events.isDraining) break;
          await subscription.next(Math.min(remaining, this.config.get('LONG_POLL_RECHECK_MS')));
        }
      } finally {
        subscription.close();
      }
    }
    const post = task.status === 'succeeded' ? await this.posts.findOneBy({ taskId: id }) : null;
    return TaskDto.from(task, post);
  }

  async list(query: ListTasksQuery): Promise<Page<TaskDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, isUuid);
    const qb = this.tasks
      .createQueryBuilder('t')
      .orderBy('t.id', 'DESC')
      .limit(limit + 1);
    if (query.status) qb.andWhere('t.status = :status', { status: query.status });
    if (query.persona_id) qb.andWhere('t.persona_id = :persona', { persona: query.persona_id });
    if (query.created_after) qb.andWhere('t.created_at >= :after', { after: new Date(query.created_after) });
    if (query.created_before)
      qb.andWhere('t.created_at < :before', { before: new Date(query.created_before) });
    if (cursor) qb.andWhere('t.id < :cursor', { cursor });
    const rows = await qb.getMany();
    return toPage(
      rows,
      limit,
      (t) => t.id,
      (t) => TaskDto.from(t),
    );
  }

  /** queued -> cancelled. The job is removed when possible; a worker that still picks it up skips it. */
  async cancel(id: string): Promise<TaskDto> {
    const { rows } = await runSql<TaskRow>(
      this.dataSource,
      `UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'queued' RETURNING ${TASK_COLUMNS}`,
      [id],
    );
    if (rows.length === 0) {
      const task = await this.findOrFail(id);
      throw ApiError.conflict(`Task ${id} is ${task.status}; only a queued task can be cancelled`);
    }
    await this.queue.remove(id);
    await this.queue.announce(id, 'cancelled');
    return TaskDto.from(taskFromRow(rows[0]));
  }

  /** failed -> queued, with a fresh job (and a fresh set of attempts). */
  async retry(id: string, requestId: string): Promise<TaskDto> {
    const { rows } = await runSql<TaskRow>(
      this.dataSource,
      `UPDATE tasks SET status = 'queued', last_error = NULL, started_at = NULL, finished_at = NULL,
         request_id = $2, updated_at = now()
       WHERE id = $1 AND status = 'failed' RETURNING ${TASK_COLUMNS}`,
      [id, requestId],
    );
    if (rows.length === 0) {
      const task = await this.findOrFail(id);
      throw ApiError.conflict(`Task ${id} is ${task.status}; only a failed task can be retried`);
    }
    await this.queue.requeue(id, requestId);
    return TaskDto.from(taskFromRow(rows[0]));
  }

  private async findOrFail(id: string): Promise<Task> {
    const task = await this.tasks.findOneBy({ id });
    if (!task) throw ApiError.notFound('Task', id);
    return task;
  }
}
