import { CallerScope, type TenantScope } from '@app/platform';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ApiErrors, EXAMPLE_POST_ID, invalid, notFound, PROTECTION_ERRORS } from '../openapi/api-responses';
import { ListPostsQuery } from './dto/list-posts.query';
import { PostDto, PostPageDto } from './dto/post.dto';
import { PostsService } from './posts.service';

@ApiTags('posts')
@ApiErrors(PROTECTION_ERRORS)
@RequireScopes('tasks:read')
@Controller('v1/posts')
export class PostsController {
  constructor(private readonly posts: PostsService) {}

  @Get()
  @ApiOperation({ operationId: 'listPosts', summary: 'List posts, newest first, optionally for one persona' })
  @ApiOkResponse({ type: PostPageDto, description: 'One page of posts; next_cursor fetches the next one.' })
  @ApiErrors({
    400: invalid('A query parameter is invalid.', {
      field: 'persona_id',
      reason: 'persona_id must be a slug of lowercase letters, digits and "-" (1-64 characters)',
    }),
  })
  list(@Query() query: ListPostsQuery, @CallerScope() scope: TenantScope): Promise<PostPageDto> {
    return this.posts.list(query, scope.visible);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getPost', summary: 'Get a post' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: PostDto, description: 'The post.' })
  @ApiErrors({
    400: invalid('The id is not a UUID.', { field: 'id', reason: 'id must be a UUID' }),
    404: notFound('Post', EXAMPLE_POST_ID),
  })
  get(@Param('id', UuidParamPipe) id: string, @CallerScope() scope: TenantScope): Promise<PostDto> {
    return this.posts.get(id, scope.visible);
  }
}
