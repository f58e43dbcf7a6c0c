import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../common/pagination';
import { SLUG_MESSAGE, SLUG_PATTERN } from '../../common/slug';

export class ListPostsQuery extends PageQuery {
  @ApiPropertyOptional({ example: 'founder-voice' })
  @IsOptional()
  @Matches(SLUG_PATTERN, { message: SLUG_MESSAGE })
  persona_id?: string;
}
