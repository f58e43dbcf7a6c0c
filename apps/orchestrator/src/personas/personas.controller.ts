import { ErrorBody } from '@app/platform';
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
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { SlugParamPipe } from '../common/slug-param.pipe';
import {
  CreatePersonaDto,
  ListPersonasQuery,
  PersonaDto,
  PersonaPageDto,
  UpdatePersonaDto,
} from './dto/persona.dto';
import { PersonasService } from './personas.service';

@ApiTags('personas')
@ApiResponse({
  status: 400,
  description: 'Invalid input: every failing field is named in details.',
  type: ErrorBody,
})
@ApiResponse({
  status: 503,
  description: 'A dependency is unavailable; retry after Retry-After seconds.',
  type: ErrorBody,
})
@Controller('v1/personas')
export class PersonasController {
  constructor(private readonly personas: PersonasService) {}

  @Post()
  @RequireScopes('personas:admin')
  @ApiOperation({ summary: 'Create a persona' })
  @ApiCreatedResponse({ type: PersonaDto })
  @ApiConflictResponse({ type: ErrorBody, description: 'A persona with this id exists (possibly archived).' })
  create(@Body() dto: CreatePersonaDto): Promise<PersonaDto> {
    return this.personas.create(dto);
  }

  @Get()
  @RequireScopes('personas:read')
  @ApiOperation({ summary: 'List personas by id, with cursor pagination' })
  @ApiOkResponse({ type: PersonaPageDto })
  list(@Query() query: ListPersonasQuery): Promise<PersonaPageDto> {
    return this.personas.list(query);
  }

  @Get(':id')
  @RequireScopes('personas:read')
  @ApiOperation({ summary: 'Get a persona (archived ones too)' })
  @ApiOkResponse({ type: PersonaDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', SlugParamPipe) id: string): Promise<PersonaDto> {
    return this.personas.get(id);
  }

  @Patch(':id')
  @RequireScopes('personas:admin')
  @ApiOperation({ summary: 'Change some fields of a persona' })
  @ApiOkResponse({ type: PersonaDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ type: ErrorBody, description: 'The persona is archived.' })
  update(@Param('id', SlugParamPipe) id: string, @Body() dto: UpdatePersonaDto): Promise<PersonaDto> {
    return this.personas.update(id, dto);
  }

  @Delete(':id')
  @RequireScopes('personas:admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Delete (archive) a persona',
    description:
      'Archives instead of erasing: existing tasks and posts keep their persona, new tasks for it are refused (422), ' +
      'and it disappears from the default list. Repeating the call is harmless.',
  })
  @ApiNoContentResponse({ description: 'Archived.' })
  @ApiNotFoundResponse({ type: ErrorBody })
  async remove(@Param('id', SlugParamPipe) id: string): Promise<void> {
    await this.personas.archive(id);
  }
}
