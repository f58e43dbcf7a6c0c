import { Post } from '@app/db';
import { ApiError, isUuid } from '@app/platform';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../common/pagination';
import type { ListPostsQuery } from './dto/list-posts.query';
import { PostDto } from './dto/post.dto';

@Injectable()
export class PostsService {
  constructor(@InjectRepository(Post) private readonly posts: Repository<Post>) {}

  /** `tenant`: whose posts the caller sees (null: every tenant's). */
  async list(query: ListPostsQuery, tenant: string | null): Promise<Page<PostDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, isUuid);
    const qb = this.posts
      .createQueryBuilder('p')
      .orderBy('p.id', 'DESC')
      .limit(limit + 1);
    if (tenant !== null) qb.andWhere('p.tenant = :tenant', { tenant });
    if (query.persona_id) qb.andWhere('p.persona_id = :persona', { persona: query.persona_id });
    if (cursor) qb.andWhere('p.id < :cursor', { cursor });
    return toPage(await qb.getMany(), limit, (p) => p.id, PostDto.from);
  }

  /** Another tenant's post is a 404, exactly like one that does not exist. */
  async get(id: string, tenant: string | null): Promise<PostDto> {
    const post = await this.posts.findOneBy(tenant === null ? { id } : { id, tenant });
    if (!post) throw ApiError.notFound('Post', id);
    return PostDto.from(post);
  }
}
