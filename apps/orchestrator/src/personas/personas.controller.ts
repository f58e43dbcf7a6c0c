import { CallerScope, type TenantScope } from '@app/platform';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { SlugParamPipe } from '../common/slug-param.pipe';
import {
  ApiErrors,
  BODY_ERRORS,
  conflict,
  EXAMPLE_MISSING_PERSONA_ID,
  EXAMPLE_PERSONA_ID,
  invalid,
  notFound,
  PROTECTION_ERRORS,
} from '../openapi/api-responses';
import {
  CreatePersonaDto,
  ListPersonasQuery,
  PersonaDto,
  PersonaPageDto,
  UpdatePersonaDto,
} from './dto/persona.dto';
import { PersonasService } from './personas.service';

const BAD_ID = invalid('The id is not a slug.', {
  field: 'id',
  reason: 'id must be a slug of lowercase letters, digits and "-"',
});
const ID_PARAM = { name: 'id', description: 'The persona id (a slug).', example: EXAMPLE_PERSONA_ID };

@ApiTags('personas')
@ApiErrors(PROTECTION_ERRORS)
@Controller('v1/personas')
export class PersonasController {
  constructor(private readonly personas: PersonasService) {}

  @Post()
  @RequireScopes('personas:admin')
  @ApiOperation({ operationId: 'createPersona', summary: 'Create a persona' })
  @ApiCreatedResponse({ type: PersonaDto, description: 'The persona, created.' })
  @ApiErrors({
    400: invalid(
      'A field is missing, has the wrong type or is out of range, or an unknown field was sent; details names each.',
      { field: 'system_prompt', reason: 'system_prompt is required' },
      { field: 'temperature', reason: 'temperature must be a number' },
    ),
    ...BODY_ERRORS,
    409: conflict(
      'A persona with this id exists (possibly archived: ids are never reused).',
      `Persona ${EXAMPLE_PERSONA_ID} already exists (possibly archived)`,
    ),
  })
  create(@Body() dto: CreatePersonaDto, @CallerScope() scope: TenantScope): Promise<PersonaDto> {
    return this.personas.create(dto, scope);
  }

  @Get()
  @RequireScopes('personas:read')
  @ApiOperation({ operationId: 'listPersonas', summary: 'List personas by id, with cursor pagination' })
  @ApiOkResponse({
    type: PersonaPageDto,
    description: 'One page of personas; next_cursor fetches the next one.',
  })
  @ApiErrors({
    400: invalid('A query parameter is invalid.', {
      field: 'include_archived',
      reason: 'include_archived must be true or false',
    }),
  })
  list(@Query() query: ListPersonasQuery, @CallerScope() scope: TenantScope): Promise<PersonaPageDto> {
    return this.personas.list(query, scope);
  }

  @Get(':id')
  @RequireScopes('personas:read')
  @ApiOperation({ operationId: 'getPersona', summary: 'Get a persona (archived ones too)' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: PersonaDto, description: 'The persona.' })
  @ApiErrors({ 400: BAD_ID, 404: notFound('Persona', EXAMPLE_MISSING_PERSONA_ID) })
  get(@Param('id', SlugParamPipe) id: string, @CallerScope() scope: TenantScope): Promise<PersonaDto> {
    return this.personas.get(id, scope);
  }

  @Patch(':id')
  @RequireScopes('personas:admin')
  @ApiOperation({ operationId: 'updatePersona', summary: 'Change some fields of a persona' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: PersonaDto, description: 'The persona, changed.' })
  @ApiErrors({
    400: invalid('A field has the wrong type or is out of range, or an unknown field was sent.', {
      field: 'max_tokens',
      reason: 'max_tokens must not be greater than 32000',
    }),
    ...BODY_ERRORS,
    404: notFound('Persona', EXAMPLE_MISSING_PERSONA_ID),
    409: conflict(
      'The persona is archived (read-only).',
      `Persona ${EXAMPLE_PERSONA_ID} is archived and read-only`,
    ),
  })
  update(
    @Param('id', SlugParamPipe) id: string,
    @Body() dto: UpdatePersonaDto,
    @CallerScope() scope: TenantScope,
  ): Promise<PersonaDto> {
    return this.personas.update(id, dto, scope);
  }

  @Delete(':id')
  @RequireScopes('personas:admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'deletePersona',
    summary: 'Delete (archive) a persona',
    description:
      'Archives instead of erasing: existing tasks and posts keep their persona, new tasks for it are refused (422), ' +
      'and it disappears from the default list. Repeating the call is harmless.',
  })
  @ApiParam(ID_PARAM)
  @ApiNoContentResponse({ description: 'Archived (or it already was).' })
  @ApiErrors({ 400: BAD_ID, 404: notFound('Persona', EXAMPLE_MISSING_PERSONA_ID) })
  async remove(@Param('id', SlugParamPipe) id: string, @CallerScope() scope: TenantScope): Promise<void> {
    await this.personas.archive(id, scope);
  }
}
