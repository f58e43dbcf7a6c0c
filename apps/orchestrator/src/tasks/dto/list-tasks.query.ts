import { TASK_STATUSES, type TaskStatus } from '@app/db';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../common/pagination';
import { SLUG_MESSAGE, SLUG_PATTERN } from '../../common/slug';

export class ListTasksQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TASK_STATUSES })
  @IsOptional()
  @IsIn(TASK_STATUSES, { message: `status must be one of: ${TASK_STATUSES.join(', ')}` })
  status?: TaskStatus;

  @ApiPropertyOptional({ example: 'founder-voice' })
  @IsOptional()
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  persona_id?: string;

  @ApiPropertyOptional({
    description: 'Only tasks created at or after this ISO 8601 instant.',
    example: '2026-11-26T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'created_after must be an ISO 8601 date-time' })
  created_after?: string;

  @ApiPropertyOptional({
    description: 'Only tasks created before this ISO 8601 instant.',
    example: '2026-11-27T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'created_before must be an ISO 8601 date-time' })
  created_before?: string;
}
