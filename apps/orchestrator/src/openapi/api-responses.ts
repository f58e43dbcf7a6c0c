import { ApiError, ErrorBody, toErrorResponse, type ErrorDetail } from '@app/platform';
import { applyDecorators, HttpStatus } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** The OpenAPI security scheme of X-API-Key. */
export const API_KEY_SECURITY = 'api-key';

/** The error statuses a /v1 operation may document. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

/** One documented error: what it means for this operation, and a body the API really sends. */
export interface ErrorDoc {
  description: string;
  example: ErrorBody;
}

/** Ids the examples use; the OpenAPI e2e test sends them to the real app and compares the answers. */
export const EXAMPLE_TASK_ID = '0193f0a4-7c1e-7d2a-9b1c-2f6f0e8d4a11';
export const EXAMPLE_POST_ID = '0193f0a5-2b7d-7e01-8c3a-51d9e6f2b0c4';
export const EXAMPLE_PERSONA_ID = 'dev-advocate';
export const EXAMPLE_MISSING_PERSONA_ID = 'no-such-persona';
export const EXAMPLE_KEY_NAME = 'ci-bot';
export const EXAMPLE_API_KEY_ID = '0193f0a6-1d2e-7f30-9a4b-6c7d8e9f0a1b';

/** The body the error filter sends for this exception (built by the same code, so it cannot drift). */
function bodyOf(error: ApiError): ErrorBody {
  return JSON.parse(JSON.stringify(toErrorResponse(error).body)) as ErrorBody;
}

export function invalid(description: string, ...details: ErrorDetail[]): ErrorDoc {
  return { description, example: bodyOf(ApiError.validation(details)) };
}

export function notFound(what: 'Task' | 'Persona' | 'Post' | 'API key', id: string): ErrorDoc {
  return {
    description: `No ${what.toLowerCase()} has this id.`,
    example: bodyOf(ApiError.notFound(what, id)),
  };
}

export function conflict(description: string, message: string): ErrorDoc {
  return { description, example: bodyOf(ApiError.conflict(message)) };
}

export function unprocessable(description: string, message: string, ...details: ErrorDetail[]): ErrorDoc {
  return {
    description,
    example: bodyOf(new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, message, details)),
  };
}

/** Errors any operation that reads a JSON body can meet before validation. */
export const BODY_ERRORS: Partial<Record<ErrorStatus, ErrorDoc>> = {
  413: {
    description: 'The body is larger than BODY_LIMIT_BYTES (64 KiB by default); nothing was read or written.',
    example: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large' },
  },
  415: {
    description: 'The body is not application/json.',
    example: {
      statusCode: 415,
      error: 'Unsupported Media Type',
      message: 'Unsupported Content-Type; send application/json',
    },
  },
};

/** 401 and 403, documented by @RequireScopes on every route that needs a key. */
export function authErrors(scopes: readonly string[]): Partial<Record<ErrorStatus, ErrorDoc>> {
  return {
    401: {
      description: 'API keys are configured and X-API-Key is missing or unknown.',
      example: {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Missing API key: send it in the X-API-Key header',
      },
    },
    403: {
      description: `The key lacks the scope this operation needs: ${scopes.join(', ')}.`,
      example: {
        statusCode: 403,
        error: 'Forbidden',
        message: `API key "${EXAMPLE_KEY_NAME}" lacks the scope ${scopes.join(', ')} that this route needs`,
      },
    },
  };
}

/** 429 and 503 apply to every /v1 operation: the limiter and the load shedder stand before them all. */
export const PROTECTION_ERRORS: Partial<Record<ErrorStatus, ErrorDoc>> = {
  429: {
    description:
      "The client (its API key, else its IP) used up a window of its tier's rate limit. Retry after Retry-After seconds; " +
      'X-RateLimit-Limit/Remaining/Reset describe the window that refused.',
    example: {
      statusCode: 429,
      error: 'Too Many Requests',
      message: `Rate limit exceeded for API key "${EXAMPLE_KEY_NAME}" (tier default): 600 requests per 60 s; retry after 12 s`,
    },
  },
  503: {
    description:
      'Unavailable for a moment: this replica is serving MAX_IN_FLIGHT requests (the example), or the database or ' +
      'Redis is unreachable or saturated ("A dependency is unavailable or saturated; retry shortly"). ' +
      'Nothing was written; retry after Retry-After seconds.',
    example: {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'This replica is serving its maximum of 200 requests at once; retry after 1 s',
    },
  },
};

/**
 * Documents error responses with the platform's ErrorBody schema and one real example each.
 * Headers (X-Request-ID, Retry-After, X-RateLimit-*) are added to every response by
 * buildOpenApiDocument, because hooks that run for every route send them.
 */
export function ApiErrors(docs: Partial<Record<ErrorStatus, ErrorDoc>>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(docs).map(([status, doc]) =>
      ApiResponse({
        status: Number(status),
        description: doc.description,
        type: ErrorBody,
        example: doc.example,
      }),
    ),
  );
}
