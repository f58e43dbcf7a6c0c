import { TASK_STATUSES, type TaskStatus } from '@app/db';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, Matches } from 'class-validator';

export class UsageQuery {
  @ApiPropertyOptional({
    description: 'Tasks created at or after this instant; default: 30 days before `to`.',
    example: '2026-11-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({
    description: 'Tasks created before this instant; default: now.',
    example: '2026-12-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO 8601 date-time' })
  to?: string;

  @ApiPropertyOptional({
    description:
      "Keys with the admin scope only: this tenant's usage (an admin gets every tenant's together without it).",
    example: 'acme',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'tenant must be 1-64 letters, digits, "_", "." or "-"' })
  tenant?: string;
}

export class TaskCountsDto implements Record<TaskStatus, number> {
  @ApiProperty({ example: 2 }) queued: number;
  @ApiProperty({ example: 1 }) running: number;
  @ApiProperty({ example: 40 }) succeeded: number;
  @ApiProperty({ example: 3 }) failed: number;
  @ApiProperty({ example: 0 }) cancelled: number;
  @ApiProperty({ example: 46 }) total: number;
}

export class ModelTokensDto {
  @ApiProperty({ example: 'gpt-4o-mini' }) model: string;
  @ApiProperty({ description: 'Succeeded tasks whose run this model answered.', example: 40 }) tasks: number;
  @ApiProperty({ description: 'Prompt tokens of those runs, as the provider reported them.', example: 5200 })
  prompt_tokens: number;
  @ApiProperty({ description: 'Completion tokens of those runs.', example: 2080 }) completion_tokens: number;
  @ApiProperty({ description: 'prompt_tokens + completion_tokens.', example: 7280 }) tokens: number;
}

export class TokenUsageDto {
  @ApiProperty({ example: 7280 }) total: number;
  @ApiProperty({ type: [ModelTokensDto] }) by_model: ModelTokensDto[];
}

export class UsageDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'acme',
    description: 'Whose usage this is; null: every tenant together (admin without ?tenant=).',
  })
  tenant: string | null;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ type: TaskCountsDto, description: 'Tasks created in [from, to), by their status now.' })
  tasks: TaskCountsDto;
  @ApiProperty({ type: TokenUsageDto, description: 'LLM tokens of those tasks, by model.' })
  tokens: TokenUsageDto;
}

export const ZERO_COUNTS = (): TaskCountsDto =>
  Object.fromEntries([...TASK_STATUSES.map((s) => [s, 0]), ['total', 0]]) as unknown as TaskCountsDto;
