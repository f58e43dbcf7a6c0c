import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Min } from 'class-validator';

export class GetTaskQuery {
  @ApiPropertyOptional({
    description:
      'Long-poll: wait up to this many seconds for the task to reach a terminal state (capped by LONG_POLL_MAX_WAIT_S, default 30).',
    minimum: 0,
    example: 10,
  })
  @IsOptional()
  @Type(() => Number)
  @Min(0, { message: 'wait must not be negative' })
  @IsInt({ message: 'wait must be a whole number of seconds' })
  wait?: number;
}
