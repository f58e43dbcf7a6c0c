import type { ApiKeyRecord } from '@app/db';
import { API_SCOPES, type ApiScope } from '@app/platform';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
} from 'class-validator';
import { REQUIRED } from '../../common/validation-messages';

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_MESSAGE = '$property must be 1-64 letters, digits, "_", "." or "-"';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'acme', description: 'The tenant whose records the key sees.' })
  @IsDefined({ message: REQUIRED })
  @Matches(NAME_PATTERN, { message: NAME_MESSAGE })
  @IsString()
  tenant: string;

  @ApiProperty({ example: 'ci-bot', description: 'A label for people; shown in logs and 403 messages.' })
  @IsDefined({ message: REQUIRED })
  @Matches(NAME_PATTERN, { message: NAME_MESSAGE })
  @IsString()
  name: string;

  @ApiProperty({ example: 'default', description: 'A tier of RATE_LIMIT_TIERS.' })
  @IsDefined({ message: REQUIRED })
  @Matches(NAME_PATTERN, { message: NAME_MESSAGE })
  @IsString()
  tier: string;

  @ApiProperty({ enum: API_SCOPES, isArray: true, example: ['tasks:read', 'tasks:write'] })
  @IsDefined({ message: REQUIRED })
  @IsIn(API_SCOPES, { each: true, message: `each of scopes must be one of: ${API_SCOPES.join(', ')}` })
  @ArrayMaxSize(API_SCOPES.length)
  @ArrayMinSize(1, { message: 'scopes must list at least one scope' })
  @IsArray({ message: 'scopes must be an array' })
  scopes: ApiScope[];

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2027-01-01T00:00:00Z',
    description: 'When the key stops working; never when left out.',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'expires_at must be an ISO 8601 date-time' })
  expires_at?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'acme' }) tenant: string;
  @ApiProperty({ example: 'ci-bot' }) name: string;
  @ApiProperty({ example: 'default' }) tier: string;
  @ApiProperty({ enum: API_SCOPES, isArray: true }) scopes: string[];
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expires_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revoked_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) rotated_at: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'After a rotation: until when the previous secret keeps working.',
  })
  previous_key_valid_until: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Last request made with the key, to the minute.',
  })
  last_used_at: string | null;

  static from(key: ApiKeyRecord): ApiKeyDto {
    return {
      id: key.id,
      tenant: key.tenant,
      name: key.name,
      tier: key.tier,
      scopes: key.scopes,
      created_at: key.createdAt.toISOString(),
      expires_at: key.expiresAt?.toISOString() ?? null,
      revoked_at: key.revokedAt?.toISOString() ?? null,
      rotated_at: key.rotatedAt?.toISOString() ?? null,
      previous_key_valid_until: key.previousValidUntil?.toISOString() ?? null,
      last_used_at: key.lastUsedAt?.toISOString() ?? null,
    };
  }
}

export class ApiKeyWithSecretDto extends ApiKeyDto {
  @ApiProperty({
    example: 'ak_3q2-7wE...',
    description: 'The secret for X-API-Key. Shown in this answer only: store it now.',
  })
  key: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) data: ApiKeyDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}
