import { ErrorBody } from '@app/platform';
import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ListPostsQuery } from './dto/list-posts.query';
import { PostDto, PostPageDto } from './dto/post.dto';
import { PostsService } from './posts.service';

@ApiTags('posts')
@ApiResponse({
  status: 400,
  description: 'Invalid query: every failing field is named in details.',
  type: ErrorBody,
})
@ApiResponse({
  status: 503,
  description: 'A dependency is unavailable; retry after Retry-After seconds.',
  type: ErrorBody,
})
@RequireScopes('tasks:read')
@Controller('v1/posts')
export class PostsController {
  constructor(private readonly posts: PostsService) {}

  @Get()
  @ApiOperation({ summary: 'List posts, newest first, optionally for one persona' })
  @ApiOkResponse({ type: PostPageDto })
  list(@Query() query: ListPostsQuery): Promise<PostPageDto> {
    return this.posts.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a post' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: PostDto })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', UuidParamPipe) id: string): Promise<PostDto> {
    return this.posts.get(id);
  }
}
