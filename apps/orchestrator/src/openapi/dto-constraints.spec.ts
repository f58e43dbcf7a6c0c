import { DECORATORS } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import { PageQuery } from '../common/pagination';
import { CreatePersonaDto, ListPersonasQuery } from '../personas/dto/persona.dto';
import { ListPostsQuery } from '../posts/dto/list-posts.query';
import { CreateTaskDto } from '../tasks/dto/create-task.dto';
import { GetTaskQuery } from '../tasks/dto/get-task.query';
import { ListTasksQuery } from '../tasks/dto/list-tasks.query';

/**
 * Lengths and ranges are written twice, for class-validator and for the OpenAPI schema (the
 * @nestjs/swagger CLI plugin, which would derive the second from the first, cannot run in this
 * repository's tsc and SWC builds; see docs/api.md). This test makes the two copies agree.
 */
const BOUNDS: Record<string, string> = {
  maxLength: 'maxLength',
  minLength: 'minLength',
  max: 'maximum',
  min: 'minimum',
};

type Dto = new () => object;
const DTOS: Dto[] = [
  CreateTaskDto,
  ListTasksQuery,
  GetTaskQuery,
  CreatePersonaDto,
  ListPersonasQuery,
  ListPostsQuery,
  PageQuery,
];

function validatorBounds(dto: Dto): Record<string, Record<string, number>> {
  const bounds: Record<string, Record<string, number>> = {};
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false)) {
    const key = meta.name ? BOUNDS[meta.name] : undefined;
    if (!key) continue;
    (bounds[meta.propertyName] ??= {})[key] = meta.constraints[0] as number;
  }
  return bounds;
}

function schemaBounds(dto: Dto): Record<string, Record<string, number>> {
  const bounds: Record<string, Record<string, number>> = {};
  const names: string[] = Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, dto.prototype) ?? [];
  for (const name of names.map((n) => n.replace(/^:/, ''))) {
    const property = Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, dto.prototype, name) ?? {};
    for (const key of Object.values(BOUNDS)) {
      if (typeof property[key] === 'number') (bounds[name] ??= {})[key] = property[key];
    }
  }
  return bounds;
}

describe('DTO bounds: class-validator and the OpenAPI schema agree', () => {
  it.each(DTOS.map((dto) => [dto.name, dto] as const))('%s', (_name, dto) => {
    expect(schemaBounds(dto)).toEqual(validatorBounds(dto));
  });
});
