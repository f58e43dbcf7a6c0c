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

  async list(query: ListPostsQuery): Promise<Page<PostDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const cursor = decodeCursor(query.cursor, isUuid);
    const qb = this.posts
      .createQueryBuilder('p')
      .orderBy('p.id', 'DESC')
      .limit(limit + 1);
    if (query.persona_id) qb.andWhere('p.persona_id = :persona', { persona: query.persona_id });
    if (cursor) qb.andWhere('p.id < :cursor', { cursor });
    return toPage(await qb.getMany(), limit, (p) => p.id, PostDto.from);
  }

  async get(id: string): Promise<PostDto> {
    const post = await this.posts.findOneBy({ id });
    if (!post) throw ApiError.notFound('Post', id);
    return PostDto.from(post);
  }
}
