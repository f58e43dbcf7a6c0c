import {
  TASK_STATUSES,
  TASK_TYPES,
  taskJson,
  type Post,
  type Task,
  type TaskJson,
  type TaskStatus,
  type TaskUsageJson,
} from '@app/db';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PostDto } from '../../posts/dto/post.dto';

export class TaskInputDto {
  @ApiPropertyOptional() pain_statement?: string;
  @ApiPropertyOptional() trend_snippet?: string;
  @ApiPropertyOptional() topic?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) extras?: Record<
    string,
    string | number | boolean
  >;
}

export class TaskUsageDto implements TaskUsageJson {
  @ApiProperty({ example: 'gpt-4o-mini', description: 'The model that answered, as the provider named it.' })
  model: string;
  @ApiProperty({ example: 150, description: 'Prompt tokens of all LLM calls of the successful run.' })
  prompt_tokens: number;
  @ApiProperty({ example: 182, description: 'Tokens the model generated in the successful run.' })
  completion_tokens: number;
}

/** Documents the API's task JSON (TaskJson, built by taskJson in @app/db) for OpenAPI. */
export class TaskDto implements TaskJson {
  @ApiProperty({ format: 'uuid', example: '019abf3e-6a3c-7c1e-9d2a-5b8f0e1d2c3b' }) id: string;
  @ApiProperty({ example: 'founder-voice' }) persona_id: string;
  @ApiProperty({ enum: TASK_TYPES }) task_type: string;
  @ApiProperty({ enum: TASK_STATUSES, example: 'queued' }) status: TaskStatus;
  @ApiProperty({ type: TaskInputDto }) input: TaskInputDto;
  @ApiProperty({
    description: 'Runs started so far (a retried or re-delivered job counts again).',
    example: 0,
  })
  attempts: number;
  @ApiProperty({ type: String, nullable: true, description: 'Why the last attempt failed.' }) last_error:
    string | null;
  @ApiProperty({ type: String, nullable: true, description: 'X-Request-ID of the creating request.' })
  request_id: string | null;
  @ApiProperty({ type: String, nullable: true }) callback_url: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) started_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finished_at: string | null;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
  @ApiProperty({
    type: TaskUsageDto,
    nullable: true,
    description:
      'Token usage of the successful run, as the provider reported it (counted when it reported none); null until the task succeeded.',
  })
  usage: TaskUsageDto | null;
  @ApiProperty({ type: PostDto, nullable: true, description: 'The agent output, once the task succeeded.' })
  post: PostDto | null;

  static from(task: Task, post: Post | null = null): TaskDto {
    return taskJson(task, post);
  }
}

export class TaskPageDto {
  @ApiProperty({ type: [TaskDto] }) data: TaskDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as ?cursor= for the next page; null on the last page.',
  })
  next_cursor: string | null;
}
