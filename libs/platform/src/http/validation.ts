import {
  ValidationPipe,
  type ArgumentMetadata,
  type ValidationError,
  type ValidationPipeOptions,
} from '@nestjs/common';
import { ApiError } from './api-error';
import type { ErrorDetail } from './error-body';

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((reason) => ({ field, reason }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** JSON nested deeper than this is refused before anything walks it recursively. */
export const MAX_INPUT_DEPTH = 32;
/** Keys that only ever appear in prototype-pollution attempts; the query parser lets them through. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** In a `u` regex a surrogate pair is one code point, so only an unpaired surrogate matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Walks a parsed body or query iteratively (a recursive walk is what a hostile document
 * nested thousands deep would overflow): too deep, a prototype-pollution key, a NUL character
 * or a lone UTF-16 surrogate in a key or string (Postgres text and jsonb cannot store either)
 * is a 400 naming the field.
 */
function inspectInput(value: unknown): ErrorDetail | null {
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length > 0) {
    const [node, path, depth] = stack.pop()!;
    if (typeof node === 'string') {
      if (node.includes('\u0000')) {
        return {
          field: path || '(body)',
          reason: `${path || 'the body'} must not contain the NUL character (\\u0000)`,
        };
      }
      if (LONE_SURROGATE.test(node)) {
        return {
          field: path || '(body)',
          reason: `${path || 'the body'} must be valid Unicode (it has a lone UTF-16 surrogate)`,
        };
      }
    } else if (typeof node === 'object' && node !== null) {
      if (depth >= MAX_INPUT_DEPTH) {
        return { field: path || '(body)', reason: `input nested deeper than ${MAX_INPUT_DEPTH} levels` };
      }
      for (const [key, child] of Object.entries(node)) {
        const childPath = path ? `${path}.${key}` : key;
        if (RESERVED_KEYS.has(key)) {
          return { field: childPath, reason: `${childPath} is not an accepted field name` };
        }
        if (key.includes('\u0000')) {
          return { field: childPath, reason: 'field names must not contain the NUL character (\\u0000)' };
        }
        if (LONE_SURROGATE.test(key)) {
          return { field: childPath, reason: 'field names must be valid Unicode (a lone UTF-16 surrogate)' };
        }
        stack.push([child, childPath, depth + 1]);
      }
    }
  }
  return null;
}

/**
 * A DTO class may answer its common valid body itself: `fastAccept` returns the DTO, or null to
 * leave the body to class-validator. It must accept only bodies its decorators accept, and build
 * what class-transformer would; class-validator still judges, and words the errors for,
 * everything else.
 */
export interface FastAcceptingDto {
  fastAccept(body: Record<string, unknown>): object | null;
}

function hasFastAccept(metatype: unknown): metatype is FastAcceptingDto {
  return typeof (metatype as Partial<FastAcceptingDto> | undefined)?.fastAccept === 'function';
}

/**
 * Strict validation for bodies and query strings: unknown properties are rejected (not silently
 * dropped), types are converted only where a DTO says so, and every failing field is named once.
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (
      metadata.type === 'body' &&
      metadata.metatype &&
      (typeof value !== 'object' || value === null || Array.isArray(value))
    ) {
      const reason =
        value === undefined ? 'the body is empty; send a JSON object' : 'the body must be a JSON object';
      throw ApiError.validation([{ field: '(body)', reason }]);
    }
    if (metadata.type === 'body' || metadata.type === 'query') {
      const problem = inspectInput(value);
      if (problem) throw ApiError.validation([problem]);
    }
    if (metadata.type === 'body' && hasFastAccept(metadata.metatype)) {
      const accepted = metadata.metatype.fastAccept(value as Record<string, unknown>);
      if (accepted) return accepted;
    }
    return super.transform(value, metadata);
  }
}

/** The global pipe's class-validator options (exported so tests can check a fast path against them). */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => ApiError.validation(flatten(errors)),
};

export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe(VALIDATION_OPTIONS);
}
