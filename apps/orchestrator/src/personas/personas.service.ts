import { Persona } from '@app/db';
import { ApiError, type TenantScope } from '@app/platform';
import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../common/pagination';
import { SLUG_PATTERN } from '../common/slug';
import {
  PersonaDto,
  type CreatePersonaDto,
  type ListPersonasQuery,
  type UpdatePersonaDto,
} from './dto/persona.dto';

/**
 * Personas are global (tenant null: seeded, or created by an admin key; read-only to tenants) or
 * a tenant's own (created with a tenant's key; visible and editable by that tenant only). Ids
 * are one namespace: a slug taken by any persona is a 409.
 */
@Injectable()
export class PersonasService {
  constructor(@InjectRepository(Persona) private readonly personas: Repository<Persona>) {}

  async create(dto: CreatePersonaDto, scope: TenantScope): Promise<PersonaDto> {
    const result = await this.personas
      .createQueryBuilder()
      .insert()
      .values({
        id: dto.id,
        tenant: scope.admin ? null : scope.tenant,
        name: dto.name,
        systemPrompt: dto.system_prompt,
        model: dto.model,
        temperature: dto.temperature,
        maxTokens: dto.max_tokens,
      })
      .orIgnore()
      .returning('id')
      .execute();
    if (result.raw.length === 0)
      throw ApiError.conflict(`Persona ${dto.id} already exists (possibly archived)`);
    return PersonaDto.from(await this.findOrFail(dto.id, scope.visible));
  }

  async list(query: ListPersonasQuery, scope: TenantScope): Promise<Page<PersonaDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, (key) => SLUG_PATTERN.test(key));
    const qb = this.personas
      .createQueryBuilder('p')
      .orderBy('p.id', 'ASC')
      .limit(limit + 1);
    if (scope.visible !== null) {
      qb.andWhere('(p.tenant IS NULL OR p.tenant = :tenant)', { tenant: scope.visible });
    }
    if (!query.include_archived) qb.andWhere('p.archived_at IS NULL');
    if (cursor) qb.andWhere('p.id > :cursor', { cursor });
    return toPage(await qb.getMany(), limit, (p) => p.id, PersonaDto.from);
  }

  async get(id: string, scope: TenantScope): Promise<PersonaDto> {
    return PersonaDto.from(await this.findOrFail(id, scope.visible));
  }

  async update(id: string, dto: UpdatePersonaDto, scope: TenantScope): Promise<PersonaDto> {
    const changes = {
      ...(dto.name !== undefined && { name: dto.name }),
      ...(dto.system_prompt !== undefined && { systemPrompt: dto.system_prompt }),
      ...(dto.model !== undefined && { model: dto.model }),
      ...(dto.temperature !== undefined && { temperature: dto.temperature }),
      ...(dto.max_tokens !== undefined && { maxTokens: dto.max_tokens }),
    };
    if (Object.keys(changes).length === 0) {
      throw ApiError.validation([{ field: '(body)', reason: 'send at least one field to change' }]);
    }
    const persona = await this.findWritable(id, scope);
    if (persona.archivedAt) throw ApiError.conflict(`Persona ${id} is archived and read-only`);
    await this.personas.update({ id }, changes);
    return PersonaDto.from(await this.findOrFail(id, scope.visible));
  }

  /**
   * DELETE archives: tasks and posts reference the persona, and silently deleting it would erase
   * their history. An archived persona takes no new tasks and is hidden from the default list.
   */
  async archive(id: string, scope: TenantScope): Promise<void> {
    await this.findWritable(id, scope);
    const result = await this.personas
      .createQueryBuilder()
      .update()
      .set({ archivedAt: () => 'now()' })
      .where('id = :id AND archived_at IS NULL', { id })
      .execute();
    if (!result.affected) await this.findOrFail(id, scope.visible);
  }

  /** A persona the caller sees: global, or of `tenant` (null: any). Another tenant's is a 404. */
  private async findOrFail(id: string, tenant: string | null): Promise<Persona> {
    const persona = await this.personas.findOneBy({ id });
    if (!persona || (tenant !== null && persona.tenant !== null && persona.tenant !== tenant)) {
      throw ApiError.notFound('Persona', id);
    }
    return persona;
  }

  /** A persona the caller may change: its tenant's own; a global one only with the admin scope. */
  private async findWritable(id: string, scope: TenantScope): Promise<Persona> {
    const persona = await this.findOrFail(id, scope.visible);
    if (persona.tenant === null && !scope.admin) {
      throw new ApiError(
        HttpStatus.FORBIDDEN,
        `Persona ${id} is global and read-only; create your own persona to change it`,
      );
    }
    return persona;
  }
}
