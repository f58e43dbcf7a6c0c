import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Min } from 'class-validator';

export class GetTaskQuery {
  @ApiPropertyOptional({
    description:
      'Long-poll: wait up to this many seconds for the task to reach a terminal state (capped by LONG_POLL_MAX_WAIT_S, default 30).',
    minimum: 0,
    example: 10,
  })
  @IsOptional()
  // Only decimal digits become a number: anything else stays text and fails IsInt below, so
  // `wait=abc` is told it is not a number (Number('abc') is NaN, which Min would word as negative).
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
  )
  @Min(0, { message: 'wait must not be negative' })
  @IsInt({ message: 'wait must be a number: whole seconds, like wait=10' })
  wait?: number;
}
