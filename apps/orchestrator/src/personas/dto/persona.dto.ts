import type { Persona } from '@app/db';
import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { PageQuery } from '../../common/pagination';
import { SLUG_MESSAGE, SLUG_PATTERN } from '../../common/slug';
import { REQUIRED } from '../../common/validation-messages';

/** Type checks sit lowest and required fields carry @IsDefined: see common/validation-messages.ts. */
export class CreatePersonaDto {
  @ApiProperty({ example: 'dev-advocate', description: 'Slug id: lowercase letters, digits and "-".' })
  @IsDefined({ message: REQUIRED })
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  @IsString()
  id: string;

  @ApiProperty({ example: 'Developer Advocate', minLength: 1, maxLength: 200 })
  @IsDefined({ message: REQUIRED })
  @MaxLength(200)
  @MinLength(1)
  @IsString()
  name: string;

  @ApiProperty({
    example: 'You explain developer tools with runnable examples and honest caveats.',
    minLength: 1,
    maxLength: 8000,
  })
  @IsDefined({ message: REQUIRED })
  @MaxLength(8000)
  @MinLength(1)
  @IsString()
  system_prompt: string;

  @ApiProperty({ example: 'gpt-4o-mini', minLength: 1, maxLength: 100 })
  @IsDefined({ message: REQUIRED })
  @MaxLength(100)
  @MinLength(1)
  @IsString()
  model: string;

  @ApiProperty({ example: 0.7, minimum: 0, maximum: 2 })
  @IsDefined({ message: REQUIRED })
  @Max(2)
  @Min(0)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: '$property must be a number' })
  temperature: number;

  @ApiProperty({ type: 'integer', example: 400, minimum: 1, maximum: 32000 })
  @IsDefined({ message: REQUIRED })
  @Max(32000)
  @Min(1)
  @IsInt({ message: '$property must be a whole number' })
  max_tokens: number;
}

export class UpdatePersonaDto extends PartialType(OmitType(CreatePersonaDto, ['id'] as const)) {}

export class ListPersonasQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Include archived (deleted) personas.', default: false })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'include_archived must be true or false' })
  include_archived?: boolean;
}

export class PersonaDto {
  @ApiProperty({ example: 'founder-voice' }) id: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'The tenant that owns it; null for a global persona, which tenants can use but not change.',
  })
  tenant: string | null;
  @ApiProperty({ example: 'Founder Voice' }) name: string;
  @ApiProperty() system_prompt: string;
  @ApiProperty({ example: 'gpt-4o-mini' }) model: string;
  @ApiProperty({ example: 0.7 }) temperature: number;
  @ApiProperty({ example: 400 }) max_tokens: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Set when the persona was deleted (archived).',
  })
  archived_at: string | null;

  static from(p: Persona): PersonaDto {
    return {
      id: p.id,
      tenant: p.tenant,
      name: p.name,
      system_prompt: p.systemPrompt,
      model: p.model,
      temperature: p.temperature,
      max_tokens: p.maxTokens,
      created_at: p.createdAt.toISOString(),
      updated_at: p.updatedAt.toISOString(),
      archived_at: p.archivedAt?.toISOString() ?? null,
    };
  }
}

export class PersonaPageDto {
  @ApiProperty({ type: [PersonaDto] }) data: PersonaDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}
