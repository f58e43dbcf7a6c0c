import { ApiError, AppConfig, ClientId, ErrorBody } from '@app/platform';
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
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { CreateTaskDto } from './dto/create-task.dto';
import { GetTaskQuery } from './dto/get-task.query';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TaskDto, TaskPageDto } from './dto/task.dto';
import { TasksService } from './tasks.service';
import { WaiterBudget } from './waiter-budget';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@ApiTags('tasks')
@ApiResponse({
  status: 400,
  description: 'Invalid input: every failing field is named in details.',
  type: ErrorBody,
})
@ApiResponse({
  status: 503,
  description: 'A dependency is unavailable; retry after Retry-After seconds.',
  type: ErrorBody,
})
@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly tasks: TasksService,
    private readonly config: AppConfig,
    private readonly waiters: WaiterBudget,
  ) {}

  @Post()
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Submit a task for a persona',
    description:
      'Validates, stores the task in Postgres, then queues it. Answers 202 with the task and a Location header. ' +
      'If Redis is briefly unavailable the task is still stored and accepted; the reconciler queues it within seconds.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same key + same body returns the original task (200); same key + different body is a 422.',
  })
  @ApiAcceptedResponse({ type: TaskDto, description: 'Task accepted and queued.' })
  @ApiOkResponse({ type: TaskDto, description: 'Idempotent replay: the task created earlier with this key.' })
  @ApiResponse({ status: 413, description: 'Body larger than BODY_LIMIT_BYTES.', type: ErrorBody })
  @ApiResponse({
    status: 422,
    description: 'Unknown or archived persona, or Idempotency-Key reused with another body.',
    type: ErrorBody,
  })
  async create(
    @Body() dto: CreateTaskDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @ClientId() clientId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskDto> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw ApiError.validation([
        { field: 'Idempotency-Key', reason: 'must be 1-255 visible ASCII characters without spaces' },
      ]);
    }
    const { task, created } = await this.tasks.create(dto, {
      clientId,
      requestId: request.id,
      idempotencyKey: idempotencyKey ?? null,
    });
    void reply.header('Location', `/v1/tasks/${task.id}`);
    if (!created) void reply.status(HttpStatus.OK);
    return TaskDto.from(task);
  }

  @Get()
  @RequireScopes('tasks:read')
  @ApiOperation({ summary: 'List tasks, newest first, with filters and cursor pagination' })
  @ApiOkResponse({ type: TaskPageDto })
  list(@Query() query: ListTasksQuery): Promise<TaskPageDto> {
    return this.tasks.list(query);
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiOperation({
    summary: 'Get a task (and its post once succeeded); ?wait=N long-polls until it is terminal',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: TaskDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  async get(@Param('id', UuidParamPipe) id: string, @Query() query: GetTaskQuery): Promise<TaskDto> {
    const waitSeconds = Math.min(query.wait ?? 0, this.config.get('LONG_POLL_MAX_WAIT_S'));
    if (waitSeconds === 0) return this.tasks.get(id);
    const release = this.waiters.acquire();
    try {
      return await this.tasks.get(id, waitSeconds * 1000);
    } finally {
      release();
    }
  }

  @Post(':id/cancel')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Cancel a queued task' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: TaskDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ type: ErrorBody, description: 'The task is not queued.' })
  cancel(@Param('id', UuidParamPipe) id: string): Promise<TaskDto> {
    return this.tasks.cancel(id);
  }

  @Post(':id/retry')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Queue a failed task again' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: TaskDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ type: ErrorBody, description: 'The task is not failed.' })
  retry(@Param('id', UuidParamPipe) id: string, @Req() request: FastifyRequest): Promise<TaskDto> {
    return this.tasks.retry(id, request.id);
  }
}
