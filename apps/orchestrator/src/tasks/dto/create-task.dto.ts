import { TASK_TYPES, type TaskType } from '@app/db';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength } from 'class-validator';
import { SLUG_MESSAGE, SLUG_PATTERN } from '../../common/slug';
import { IsFlatExtras } from './extras.validator';

const NOT_BLANK = /\S/;

export class CreateTaskDto {
  @ApiProperty({ example: 'founder-voice', description: 'Persona that runs the task.' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  persona_id: string;

  @ApiProperty({ enum: TASK_TYPES, example: 'generate_post' })
  @IsIn(TASK_TYPES, { message: `task_type must be one of: ${TASK_TYPES.join(', ')}` })
  task_type: TaskType;

  @ApiPropertyOptional({ maxLength: 2000, example: 'Our deploys take 40 minutes and everyone waits.' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @Matches(NOT_BLANK, { message: '$property must not be blank' })
  pain_statement?: string;

  @ApiPropertyOptional({ maxLength: 2000, example: 'Platform teams are replacing CI YAML with code.' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @Matches(NOT_BLANK, { message: '$property must not be blank' })
  trend_snippet?: string;

  @ApiPropertyOptional({ maxLength: 300, example: 'fast feedback loops' })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  @Matches(NOT_BLANK, { message: '$property must not be blank' })
  topic?: string;

  @ApiPropertyOptional({
    description: 'Free-form flat key/value pairs handed to the agent (at most 20; scalar values).',
    example: { audience: 'engineering managers', tone: 'wry' },
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  })
  @IsOptional()
  @IsFlatExtras()
  extras?: Record<string, string | number | boolean>;

  @ApiPropertyOptional({
    description: 'Receives a signed POST when the task reaches a terminal state.',
    example: 'https://example.com/hooks/agent-platform',
  })
  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'callback_url must be an http(s) URL' },
  )
  @MaxLength(2048)
  callback_url?: string;
}
