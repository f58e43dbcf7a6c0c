import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse, type ErrorResponse } from './error-mapping';

export function sendError(reply: FastifyReply, response: ErrorResponse): void {
  if (response.retryAfterSeconds !== undefined) {
    void reply.header('Retry-After', String(response.retryAfterSeconds));
  }
  void reply.status(response.status).type('application/json; charset=utf-8').send(response.body);
}

/** Every error a Nest handler throws leaves in the platform's one error shape. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(AllExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    const response = toErrorResponse(exception);
    if (response.unexpected) {
      this.logger.error({ err: exception, reqId: request.id, url: request.url }, 'unhandled error');
    } else if (response.status === 503) {
      this.logger.warn({ err: exception, reqId: request.id, url: request.url }, 'dependency failure');
    }
    sendError(reply, response);
  }
}
