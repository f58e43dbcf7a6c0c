import { ApiError } from '@app/platform';
import { Injectable, type PipeTransform } from '@nestjs/common';
import { SLUG_PATTERN } from './slug';

@Injectable()
export class SlugParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!SLUG_PATTERN.test(value)) {
      throw ApiError.validation([
        { field: 'id', reason: 'id must be a slug of lowercase letters, digits and "-"' },
      ]);
    }
    return value;
  }
}
