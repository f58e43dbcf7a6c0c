import {
  cancelRunningTask,
  cancelTask,
  findTaskByIdempotencyKey,
  getTaskWithPost,
  isTerminal,
  listTasks,
  retryTask,
  TaskInsertBatcher,
  type Task,
  type TaskInput,
  type TaskWithPost,
} from '@app/db';
import { ApiError, AppConfig, isUuid, newId } from '@app/platform';
import { HttpStatus, Injectable } from '@nestjs/common';
import stableStringify from 'fast-json-stable-stringify';
import { createHash } from 'node:crypto';
import { Pool } from 'pg';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../common/pagination';
import type { CreateTaskDto } from './dto/create-task.dto';
import type { ListTasksQuery } from './dto/list-tasks.query';
import { TaskDto } from './dto/task.dto';
import { TaskEventsListener } from './task-events.listener';
import { TaskMetrics } from './task.metrics';
import { TaskQueueService } from './task-queue.service';
import { TenantQuota } from './tenant-quota';

export interface CreateContext {
  /** The tenant the task belongs to (the caller's). */
  tenant: string;
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
    private readonly pool: Pool,
    private readonly inserts: TaskInsertBatcher,
    private readonly queue: TaskQueueService,
    private readonly events: TaskEventsListener,
    private readonly config: AppConfig,
    private readonly metrics: TaskMetrics,
    private readonly quota: TenantQuota,
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

    const settle = this.quota.admit(ctx.tenant);
    let task: Task | null = null;
    try {
      task = await this.inserts.insert({
        id: newId(),
        personaId: dto.persona_id,
        taskType: dto.task_type,
        input,
        tenant: ctx.tenant,
        clientId: ctx.clientId,
        idempotencyKey: ctx.idempotencyKey,
        requestFingerprint: fingerprint,
        requestId: ctx.requestId,
        callbackUrl: dto.callback_url ?? null,
      });
    } finally {
      settle(task !== null);
    }
    if (task) {
      this.metrics.created.inc({ task_type: task.taskType });
      // After the commit, never before: a worker must never see a job whose row is not there yet.
      // Not awaited: the committed row is the acceptance (see enqueueInBackground).
      this.queue.enqueueInBackground(task.id, task.requestId);
      return { task, created: true };
    }

    if (ctx.idempotencyKey) {
      const existing = await findTaskByIdempotencyKey(this.pool, {
        tenant: ctx.tenant,
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

  /**
   * The task (with its post once succeeded); with waitMs > 0, long-polls until it is terminal or
   * time is up. `tenant`: the tenant whose tasks the caller sees (null: every tenant's); a task of
   * another tenant is a 404, exactly like one that does not exist.
   */
  async get(id: string, tenant: string | null, waitMs = 0): Promise<TaskDto> {
    let found = await this.findOrFail(id, tenant);
    if (waitMs > 0 && !isTerminal(found.task.status)) {
      const deadline = Date.now() + waitMs;
      // Subscribe before re-reading, so a completion between the read and the subscription is not missed.
      const subscription = await this.events.subscribe(id);
      try {
        for (;;) {
          found = await this.findOrFail(id, tenant);
          const remaining = deadline - Date.now();
          if (isTerminal(found.task.status) || remaining <= 0 || this.events.isDraining) break;
          await subscription.next(Math.min(remaining, this.config.get('LONG_POLL_RECHECK_MS')));
        }
      } finally {
        subscription.close();
      }
    }
    return TaskDto.from(found.task, found.post);
  }

  async list(query: ListTasksQuery, tenant: string | null): Promise<Page<TaskDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, isUuid);
    const tasks = await listTasks(this.pool, {
      tenant,
      status: query.status,
      personaId: query.persona_id,
      createdAfter: query.created_after !== undefined ? new Date(query.created_after) : undefined,
      createdBefore: query.created_before !== undefined ? new Date(query.created_before) : undefined,
      beforeId: cursor ?? undefined,
      limit: limit + 1,
    });
    return toPage(
      tasks,
      limit,
      (t) => t.id,
      (t) => TaskDto.from(t),
    );
  }

  /**
   * queued -> cancelled: the job is removed when possible; a worker that still picks it up skips
   * it. running -> cancelled: the workers are told, and the one running it aborts its LLM call.
   */
  async cancel(id: string, tenant: string | null): Promise<TaskDto> {
    const queued = await cancelTask(this.pool, { id, tenant });
    const task = queued ?? (await cancelRunningTask(this.pool, { id, tenant }));
    if (!task) {
      const { status } = (await this.findOrFail(id, tenant)).task;
      throw ApiError.conflict(`Task ${id} is ${status}; only a queued or running task can be cancelled`);
    }
    if (queued) await this.queue.remove(id);
    else await this.queue.cancelRunning(id);
    const json = TaskDto.from(task);
    await Promise.all([this.queue.announce(id, 'cancelled'), this.queue.publishStatus(json)]);
    return json;
  }

  /** failed -> queued, with a fresh job (and a fresh set of attempts). */
  async retry(id: string, requestId: string, tenant: string | null): Promise<TaskDto> {
    const task = await retryTask(this.pool, { id, requestId, tenant });
    if (!task) {
      const { status } = (await this.findOrFail(id, tenant)).task;
      throw ApiError.conflict(`Task ${id} is ${status}; only a failed task can be retried`);
    }
    const json = TaskDto.from(task);
    await this.queue.publishStatus(json);
    await this.queue.requeue(id, requestId);
    return json;
  }

  private async findOrFail(id: string, tenant: string | null): Promise<TaskWithPost> {
    const found = await getTaskWithPost(this.pool, { id, tenant });
    if (!found) throw ApiError.notFound('Task', id);
    return found;
  }
}
