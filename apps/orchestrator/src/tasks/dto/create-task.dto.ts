import { TASK_TYPES, type TaskType } from '@app/db';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength } from 'class-validator';
import { SLUG_MESSAGE, SLUG_PATTERN } from '../../common/slug';
import { NOT_BLANK_MESSAGE, REQUIRED } from '../../common/validation-messages';
import { IsFlatExtras } from './extras.validator';

const NOT_BLANK = /\S/;

/** The text fields the fast path takes, with their @MaxLength. */
const FAST_TEXT_FIELDS = new Map<string, number>([
  ['pain_statement', 2000],
  ['trend_snippet', 2000],
  ['topic', 300],
]);

/** Type checks sit lowest and required fields carry @IsDefined: see common/validation-messages.ts. */
export class CreateTaskDto {
  @ApiProperty({ example: 'founder-voice', description: 'Persona that runs the task.' })
  @IsDefined({ message: REQUIRED })
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  @IsString()
  persona_id: string;

  @ApiProperty({ enum: TASK_TYPES, example: 'generate_post' })
  @IsDefined({ message: REQUIRED })
  @IsIn(TASK_TYPES, { message: `task_type must be one of: ${TASK_TYPES.join(', ')}` })
  task_type: TaskType;

  @ApiPropertyOptional({ maxLength: 2000, example: 'Our deploys take 40 minutes and everyone waits.' })
  @IsOptional()
  @Matches(NOT_BLANK, { message: NOT_BLANK_MESSAGE })
  @MaxLength(2000)
  @IsString()
  pain_statement?: string;

  @ApiPropertyOptional({ maxLength: 2000, example: 'Platform teams are replacing CI YAML with code.' })
  @IsOptional()
  @Matches(NOT_BLANK, { message: NOT_BLANK_MESSAGE })
  @MaxLength(2000)
  @IsString()
  trend_snippet?: string;

  @ApiPropertyOptional({ maxLength: 300, example: 'fast feedback loops' })
  @IsOptional()
  @Matches(NOT_BLANK, { message: NOT_BLANK_MESSAGE })
  @MaxLength(300)
  @IsString()
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
    description:
      'Receives a POST signed per Standard Webhooks when the task succeeds, fails or is cancelled, at least once (see docs/worker.md).',
    example: 'https://example.com/hooks/agent-platform',
    maxLength: 2048,
  })
  @IsOptional()
  @MaxLength(2048)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'callback_url must be an http(s) URL' },
  )
  callback_url?: string;

  /**
   * The common body (persona, type and text fields) checked without class-validator and
   * class-transformer: under load they were the largest source of the orchestrator's allocations
   * per POST.
   * It accepts a subset of what the decorators above accept: plain strings only, lengths counted in
   * UTF-16 units (never more than @MaxLength's count), no extras or callback_url. Anything else,
   * valid or not, goes to class-validator. create-task.dto.spec.ts checks that the two agree.
   */
  static fastAccept(body: Record<string, unknown>): CreateTaskDto | null {
    if (Object.getPrototypeOf(body) !== Object.prototype) return null;
    const { persona_id: personaId, task_type: taskType } = body;
    if (typeof personaId !== 'string' || !SLUG_PATTERN.test(personaId)) return null;
    if (!(TASK_TYPES as readonly unknown[]).includes(taskType)) return null;
    for (const key of Object.keys(body)) {
      if (key === 'persona_id' || key === 'task_type') continue;
      const max = FAST_TEXT_FIELDS.get(key);
      const value = body[key];
      if (max === undefined || typeof value !== 'string' || value.length > max || !NOT_BLANK.test(value)) {
        return null;
      }
    }
    return Object.assign(new CreateTaskDto(), body);
  }
}
