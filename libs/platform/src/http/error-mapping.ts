import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { ApiError } from './api-error';
import type { ErrorBody, ErrorDetail } from './error-body';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
  /** True when the cause is ours (a bug) rather than the client's or a dependency's. */
  unexpected: boolean;
}

/** Postgres SQLSTATEs and driver messages that mean "the database is unavailable or saturated", not "bad request". */
const PG_UNAVAILABLE_CODES = new Set([
  '57014',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'ENOTFOUND']);

function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function isDependencyFailure(err: unknown): boolean {
  // Not `instanceof Error`: socket errors are made by Node's core, which under jest (and any
  // other vm context) is a different realm whose Error fails that test.
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: string; driverError?: { code?: string }; message?: unknown; name?: unknown };
  const code = e.code ?? e.driverError?.code;
  if (code && (PG_UNAVAILABLE_CODES.has(code) || NET_CODES.has(code))) return true;
  return (
    /timeout exceeded when trying to connect|Connection terminated|Connection is closed|connection timeout|Stream isn't writeable/i.test(
      String(e.message ?? ''),
    ) || e.name === 'MaxRetriesPerRequestError'
  );
}

/** Turns anything thrown while serving a request into the platform's one error shape. */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (err instanceof ApiError) {
    const status = err.getStatus();
    return {
      status,
      body: { statusCode: status, error: statusText(status), message: err.message, details: err.details },
      retryAfterSeconds: err.retryAfterSeconds,
      unexpected: false,
    };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    let message = err.message;
    let details: ErrorDetail[] | undefined;
    if (typeof res === 'object' && res !== null) {
      const m = (res as { message?: unknown }).message;
      if (Array.isArray(m)) {
        message = m.join('; ');
        details = m.map((reason) => ({ field: '', reason: String(reason) }));
      } else if (typeof m === 'string') {
        message = m;
      }
    }
    if (status === HttpStatus.UNSUPPORTED_MEDIA_TYPE)
      message = 'Unsupported Content-Type; send application/json';
    return {
      status,
      body: { statusCode: status, error: statusText(status), message, ...(details ? { details } : {}) },
      unexpected: status >= 500,
    };
  }
  if (isDependencyFailure(err)) {
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      body: {
        statusCode: 503,
        error: statusText(503),
        message: 'A dependency is unavailable or saturated; retry shortly',
      },
      retryAfterSeconds: 1,
      unexpected: false,
    };
  }
  // Errors from the HTTP layer itself (Nest maps most of Fastify's to HttpException first) carry a 4xx statusCode.
  const fastifyError = err as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const status = fastifyError.statusCode;
    return {
      status,
      body: {
        statusCode: status,
        error: statusText(status),
        message: fastifyError.message ?? statusText(status),
      },
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: { statusCode: 500, error: statusText(500), message: 'Internal server error' },
    unexpected: true,
  };
}
