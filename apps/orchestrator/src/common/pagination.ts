import { ApiError } from '@app/platform';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @Max(MAX_PAGE_SIZE, { message: `limit must be at most ${MAX_PAGE_SIZE}` })
  @Min(1, { message: 'limit must be at least 1' })
  @IsInt({ message: 'limit must be a whole number' })
  limit?: number;

  @ApiPropertyOptional({ description: "Opaque cursor from a previous page's next_cursor.", maxLength: 200 })
  @IsOptional()
  @MaxLength(200)
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({
    description:
      "Keys with the admin scope only: list this tenant's records (an admin sees every tenant's without it).",
    example: 'acme',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'tenant must be 1-64 letters, digits, "_", "." or "-"' })
  tenant?: string;
}

/** Cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined, isValid: (key: string) => boolean): string | null {
  if (cursor === undefined) return null;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isValid(key)) {
    throw ApiError.validation([{ field: 'cursor', reason: 'cursor is not one this API issued' }]);
  }
  return key;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Fetch limit + 1 rows; the extra one only tells whether another page exists. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  key: (row: R) => string,
  present: (row: R) => T,
): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    data: pageRows.map(present),
    next_cursor: hasMore ? encodeCursor(key(pageRows[pageRows.length - 1])) : null,
  };
}
