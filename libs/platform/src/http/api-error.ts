import { HttpException, HttpStatus } from '@nestjs/common';
import type { ErrorDetail } from './error-body';

/** An HttpException that already carries the platform's error body. */
export class ApiError extends HttpException {
  constructor(
    status: HttpStatus,
    message: string,
    readonly details?: ErrorDetail[],
    readonly retryAfterSeconds?: number,
  ) {
    super(message, status);
  }

  static validation(details: ErrorDetail[], status = HttpStatus.BAD_REQUEST): ApiError {
    const reasons = details.map((d) => (d.reason.includes(d.field) ? d.reason : `${d.field}: ${d.reason}`));
    return new ApiError(status, `Validation failed: ${reasons.join('; ')}`, details);
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, `${what} ${id} not found`);
  }

  static conflict(message: string): ApiError {
    return new ApiError(HttpStatus.CONFLICT, message);
  }
}
