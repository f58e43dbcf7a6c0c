import { ApiError, isUuid } from '@app/platform';
import { Injectable, type PipeTransform } from '@nestjs/common';

/** Rejects a malformed :id with a 400 naming the field, before any query runs. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw ApiError.validation([{ field: 'id', reason: 'id must be a UUID' }]);
    return value.toLowerCase();
  }
}
