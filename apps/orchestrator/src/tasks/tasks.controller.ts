import { ApiError, AppConfig, CallerScope, ClientId, type TenantScope } from '@app/platform';
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  conflict,
  EXAMPLE_MISSING_PERSONA_ID,
  EXAMPLE_TASK_ID,
  invalid,
  notFound,
  PROTECTION_ERRORS,
  unprocessable,
} from '../openapi/api-responses';
import { CreateTaskDto } from './dto/create-task.dto';
import { GetTaskQuery } from './dto/get-task.query';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TaskDto, TaskPageDto } from './dto/task.dto';
import { parseLastEventId, TaskEventStreams } from './task-event-streams';
import { TasksService } from './tasks.service';
import { WaiterBudget } from './waiter-budget';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const LOCATION = {
  Location: {
    description: 'The task: /v1/tasks/{id}.',
    required: true,
    schema: { type: 'string', example: `/v1/tasks/${EXAMPLE_TASK_ID}` },
  },
};
const BAD_ID = invalid('The id is not a UUID.', { field: 'id', reason: 'id must be a UUID' });

@ApiTags('tasks')
@ApiErrors(PROTECTION_ERRORS)
@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly tasks: TasksService,
    private readonly config: AppConfig,
    private readonly waiters: WaiterBudget,
    private readonly streams: TaskEventStreams,
  ) {}

  @Post()
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    operationId: 'createTask',
    summary: 'Submit a task for a persona',
    description:
      'Validates, stores the task in Postgres, then queues it. Answers 202 with the task and a Location header. ' +
      'If Redis is briefly unavailable the task is still stored and accepted; the reconciler queues it within seconds. ' +
      'A tenant with TENANT_MAX_ACTIVE_TASKS tasks queued or running gets 429 ("Tenant ... has N active tasks ...") ' +
      'with Retry-After, like the rate limit.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retried submission safe: the same key with the same body returns the original task (200), ' +
      'with another body it is a 422. Keys are per tenant: all API keys of one tenant share them.',
    schema: { type: 'string', pattern: '^[!-~]{1,255}$', example: 'order-4711-post' },
  })
  @ApiAcceptedResponse({
    type: TaskDto,
    description: 'Task stored and accepted; it is queued.',
    headers: LOCATION,
  })
  @ApiOkResponse({
    type: TaskDto,
    description:
      'Idempotent replay: the task created earlier with this key and body, as it is now (with its post once succeeded).',
    headers: LOCATION,
  })
  @ApiErrors({
    400: invalid(
      'A field is missing, has the wrong type or is out of range, an unknown field was sent, or no text field is given; details names each.',
      { field: 'task_type', reason: 'task_type must be one of: generate_post, generate_thread' },
    ),
    ...BODY_ERRORS,
    422: unprocessable(
      'The persona does not exist or is archived, or the Idempotency-Key was used before with another body.',
      `Persona ${EXAMPLE_MISSING_PERSONA_ID} does not exist or is archived`,
      { field: 'persona_id', reason: `no active persona "${EXAMPLE_MISSING_PERSONA_ID}"` },
    ),
  })
  async create(
    @Body() dto: CreateTaskDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @ClientId() clientId: string,
    @CallerScope() scope: TenantScope,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskDto> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw ApiError.validation([
        { field: 'Idempotency-Key', reason: 'must be 1-255 visible ASCII characters without spaces' },
      ]);
    }
    const { task, created } = await this.tasks.create(dto, {
      tenant: scope.tenant,
      clientId,
      requestId: request.id,
      idempotencyKey: idempotencyKey ?? null,
    });
    void reply.header('Location', `/v1/tasks/${task.id}`);
    if (created) return TaskDto.from(task);
    // A replay answers with the task as it is now, post included once it succeeded, as GET would.
    void reply.status(HttpStatus.OK);
    return this.tasks.get(task.id, scope.tenant);
  }

  @Get()
  @RequireScopes('tasks:read')
  @ApiOperation({
    operationId: 'listTasks',
    summary: 'List tasks, newest first, with filters and cursor pagination',
  })
  @ApiOkResponse({ type: TaskPageDto, description: 'One page of tasks; next_cursor fetches the next one.' })
  @ApiErrors({
    400: invalid('A filter or the page parameters are invalid.', {
      field: 'limit',
      reason: 'limit must be at most 100',
    }),
  })
  list(@Query() query: ListTasksQuery, @CallerScope() scope: TenantScope): Promise<TaskPageDto> {
    return this.tasks.list(query, scope.visible);
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiOperation({
    operationId: 'getTask',
    summary: 'Get a task (and its post once succeeded); ?wait=N long-polls until it is terminal',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({
    type: TaskDto,
    description:
      'The task; with ?wait, once it is terminal or the wait is over (then possibly still queued or running).',
  })
  @ApiErrors({ 400: BAD_ID, 404: notFound('Task', EXAMPLE_TASK_ID) })
  async get(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: GetTaskQuery,
    @CallerScope() scope: TenantScope,
  ): Promise<TaskDto> {
    const waitSeconds = Math.min(query.wait ?? 0, this.config.get('LONG_POLL_MAX_WAIT_S'));
    if (waitSeconds === 0) return this.tasks.get(id, scope.visible);
    const release = this.waiters.acquire();
    try {
      return await this.tasks.get(id, scope.visible, waitSeconds * 1000);
    } finally {
      release();
    }
  }

  @Get(':id/events')
  @RequireScopes('tasks:read')
  @ApiOperation({
    operationId: 'streamTaskEvents',
    summary: "Follow a task live: its status changes and the model's output as server-sent events",
    description: [
      'A `text/event-stream` that ends after the task reaches a terminal status.',
      '',
      '- `event: status`: the task JSON exactly as GET /v1/tasks/{id} returns it; sent first, at once, then on every status change.',
      '- `event: delta`: `{"field":"hook"|"body","text":"...","offset":N}` as the model streams (openai provider with LLM_STREAM). ' +
        '`offset` is where `text` starts in the field: below the length shown so far, the call was retried, so cut the field there first. ' +
        'Deltas are provisional: the guardrail checks the whole output afterwards and may still fail the task; the post in the final status is the result.',
      '- Every event has an `id`. Reconnect with `Last-Event-ID` to resume without repeats (while the replay buffer, WORKER_DELTA_REPLAY_TTL_S, still holds them); after the end, a reconnect gets the terminal status again.',
      '- A `: heartbeat` comment every TASK_EVENTS_HEARTBEAT_MS (15 s).',
      '',
      'A stream counts against the long-poll budget (LONG_POLL_MAX_WAITERS: 503 + Retry-After when full) and the rate limit like any request.',
    ].join('\n'),
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The id of the last event received: the stream resumes after it.',
    schema: { type: 'string', example: '1795730400000-0' },
  })
  @ApiOkResponse({
    description: 'The event stream (headers Cache-Control: no-cache and X-Accel-Buffering: no).',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'id: 0-0\nevent: status\ndata: {"id":"…","status":"running",…}\n\n' +
          'id: 1795730400000-0\nevent: delta\ndata: {"field":"hook","text":"We cut","offset":0}\n\n',
      },
    },
  })
  @ApiErrors({ 400: BAD_ID, 404: notFound('Task', EXAMPLE_TASK_ID) })
  async events(
    @Param('id', UuidParamPipe) id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CallerScope() scope: TenantScope,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const release = this.waiters.acquire();
    try {
      await this.streams.serve(id, scope.visible, parseLastEventId(lastEventId), reply);
    } finally {
      release();
    }
  }

  @Post(':id/cancel')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'cancelTask',
    summary: 'Cancel a queued or running task',
    description:
      'A queued task is cancelled before it runs. A running task is cancelled at once; the worker running it aborts its LLM call (within about a second) and writes no post. ' +
      'The status event (GET /v1/tasks/{id}/events) follows. A finished task answers 409.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({
    type: TaskDto,
    description: 'The task, now cancelled; its job will not run, or its run stops without a result.',
  })
  @ApiErrors({
    400: BAD_ID,
    404: notFound('Task', EXAMPLE_TASK_ID),
    409: conflict(
      'The task is finished (succeeded, failed or already cancelled).',
      `Task ${EXAMPLE_TASK_ID} is succeeded; only a queued or running task can be cancelled`,
    ),
  })
  cancel(@Param('id', UuidParamPipe) id: string, @CallerScope() scope: TenantScope): Promise<TaskDto> {
    return this.tasks.cancel(id, scope.visible);
  }

  @Post(':id/retry')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ operationId: 'retryTask', summary: 'Queue a failed task again' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({
    type: TaskDto,
    description: 'The task, queued again as a new job with its own retries (attempts keeps counting).',
    headers: LOCATION,
  })
  @ApiErrors({
    400: BAD_ID,
    404: notFound('Task', EXAMPLE_TASK_ID),
    409: conflict(
      'The task is not failed.',
      `Task ${EXAMPLE_TASK_ID} is succeeded; only a failed task can be retried`,
    ),
  })
  async retry(
    @Param('id', UuidParamPipe) id: string,
    @CallerScope() scope: TenantScope,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskDto> {
    const task = await this.tasks.retry(id, request.id, scope.visible);
    void reply.header('Location', `/v1/tasks/${task.id}`);
    return task;
  }
}
