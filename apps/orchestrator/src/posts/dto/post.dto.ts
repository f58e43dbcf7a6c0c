import { postJson, type Post, type PostJson } from '@app/db';
import { ApiProperty } from '@nestjs/swagger';

/** Documents the API's post JSON (PostJson, built by postJson in @app/db) for OpenAPI. */
export class PostDto implements PostJson {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) task_id: string;
  @ApiProperty({ example: 'founder-voice' }) persona_id: string;
  @ApiProperty({
    example: 'We cut deploys from 40 minutes to 6. Here is the boring part nobody posts about.',
  })
  hook: string;
  @ApiProperty() body: string;
  @ApiProperty({ example: 182 }) tokens_used: number;
  @ApiProperty({ example: 'builtin-v1' }) model: string;
  @ApiProperty({ example: 3, description: 'Time spent generating, in milliseconds.' }) latency_ms: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;

  static from(post: Post): PostDto {
    return postJson(post);
  }
}

export class PostPageDto {
  @ApiProperty({ type: [PostDto] }) data: PostDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as ?cursor= for the next page; null on the last page.',
  })
  next_cursor: string | null;
}
