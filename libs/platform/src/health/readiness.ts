import { ServiceUnavailableException } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

/** Seconds a load balancer should wait before asking a not-ready instance again. */
export const READINESS_RETRY_AFTER_S = 5;

/**
 * Runs a Terminus check and answers with Terminus's own body ({status, info, error, details}) on
 * both 200 and 503, instead of the API's error shape, so probes and operators see every check.
 */
export async function answerReadiness(
  reply: FastifyReply,
  run: () => Promise<HealthCheckResult>,
): Promise<HealthCheckResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ServiceUnavailableException) {
      void reply.status(503).header('Retry-After', String(READINESS_RETRY_AFTER_S));
      return err.getResponse() as HealthCheckResult;
    }
    throw err;
  }
}
