import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { PageQuery } from '../common/pagination';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  conflict,
  EXAMPLE_API_KEY_ID,
  invalid,
  notFound,
  PROTECTION_ERRORS,
} from '../openapi/api-responses';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyPageDto, ApiKeyWithSecretDto, CreateApiKeyDto } from './dto/api-key.dto';

const BAD_ID = invalid('The id is not a UUID.', { field: 'id', reason: 'id must be a UUID' });

@ApiTags('admin')
@ApiErrors(PROTECTION_ERRORS)
@RequireScopes('admin')
@Controller('v1/admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiOperation({
    operationId: 'createApiKey',
    summary: 'Mint an API key for a tenant',
    description:
      'The answer is the only place the secret (`key`) ever appears: only its SHA-256 is stored. ' +
      'The key works on every replica at once.',
  })
  @ApiCreatedResponse({ type: ApiKeyWithSecretDto, description: 'The key, with its secret (shown once).' })
  @ApiErrors({
    400: invalid('A field is missing or invalid, the tier is unknown, or expires_at is not in the future.', {
      field: 'scopes',
      reason: 'scopes must list at least one scope',
    }),
    ...BODY_ERRORS,
  })
  create(@Body() dto: CreateApiKeyDto): Promise<ApiKeyWithSecretDto> {
    return this.keys.create(dto);
  }

  @Get()
  @ApiOperation({
    operationId: 'listApiKeys',
    summary: 'List API keys, newest first (never a secret), optionally of one tenant',
  })
  @ApiOkResponse({ type: ApiKeyPageDto, description: 'One page of keys; next_cursor fetches the next one.' })
  @ApiErrors({
    400: invalid('A query parameter is invalid.', { field: 'limit', reason: 'limit must be at most 100' }),
  })
  list(@Query() query: PageQuery): Promise<ApiKeyPageDto> {
    return this.keys.list(query);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description:
      'Every replica refuses the key (and a rotated-out secret of it) within 2 s: at once through Redis, ' +
      'within API_KEY_CACHE_TTL_MS if that message is lost. Repeating the call is harmless.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Revoked (or it already was).' })
  @ApiErrors({ 400: BAD_ID, 404: notFound('API key', EXAMPLE_API_KEY_ID) })
  async revoke(@Param('id', UuidParamPipe) id: string): Promise<void> {
    await this.keys.revoke(id);
  }

  @Post(':id/rotate')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'rotateApiKey',
    summary: 'Give an API key a new secret; the old one keeps working for a grace period',
    description:
      'The old secret keeps working for API_KEY_ROTATION_GRACE_S (24 h by default; see previous_key_valid_until), ' +
      'so clients can switch without downtime. A secret rotated out earlier stops at once.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ApiKeyWithSecretDto, description: 'The key, with its new secret (shown once).' })
  @ApiErrors({
    400: BAD_ID,
    404: notFound('API key', EXAMPLE_API_KEY_ID),
    409: conflict(
      'The key is revoked or expired.',
      `API key ${EXAMPLE_API_KEY_ID} is revoked or expired; create a new one instead`,
    ),
  })
  rotate(@Param('id', UuidParamPipe) id: string): Promise<ApiKeyWithSecretDto> {
    return this.keys.rotate(id);
  }
}
