import { Persona } from '@app/db';
import { ApiError } from '@app/platform';
import { Injectable } from '@nestjs/common';
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

@Injectable()
export class PersonasService {
  constructor(@InjectRepository(Persona) private readonly personas: Repository<Persona>) {}

  async create(dto: CreatePersonaDto): Promise<PersonaDto> {
    const result = await this.personas
      .createQueryBuilder()
      .insert()
      .values({
        id: dto.id,
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
    return PersonaDto.from(await this.findOrFail(dto.id));
  }

  async list(query: ListPersonasQuery): Promise<Page<PersonaDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, (key) => SLUG_PATTERN.test(key));
    const qb = this.personas
      .createQueryBuilder('p')
      .orderBy('p.id', 'ASC')
      .limit(limit + 1);
    if (!query.include_archived) qb.andWhere('p.archived_at IS NULL');
    if (cursor) qb.andWhere('p.id > :cursor', { cursor });
    return toPage(await qb.getMany(), limit, (p) => p.id, PersonaDto.from);
  }

  async get(id: string): Promise<PersonaDto> {
    return PersonaDto.from(await this.findOrFail(id));
  }

  async update(id: string, dto: UpdatePersonaDto): Promise<PersonaDto> {
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
    const persona = await this.findOrFail(id);
    if (persona.archivedAt) throw ApiError.conflict(`Persona ${id} is archived and read-only`);
    await this.personas.update({ id }, changes);
    return PersonaDto.from(await this.findOrFail(id));
  }

  /**
   * DELETE archives: tasks and posts reference the persona, and silently deleting it would erase
   * their history. An archived persona takes no new tasks and is hidden from the default list.
   */
  async archive(id: string): Promise<void> {
    const result = await this.personas
      .createQueryBuilder()
      .update()
      .set({ archivedAt: () => 'now()' })
      .where('id = :id AND archived_at IS NULL', { id })
      .execute();
    if (!result.affected) await this.findOrFail(id);
  }

  private async findOrFail(id: string): Promise<Persona> {
    const persona = await this.personas.findOneBy({ id });
    if (!persona) throw ApiError.notFound('Persona', id);
    return persona;
  }
}
