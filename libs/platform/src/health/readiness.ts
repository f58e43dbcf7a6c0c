import { ServiceUnavailableException } from '@nestjs/common';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

/** Seconds a load balancer should wait before asking a not-ready instance again. */
export const READINESS_RETRY_AFTER_S = 5;

/**
 * Runs a Terminus check and answers with Terminus's own body ({status, info, error, details}) on
 * both 200 and 503, instead of the API's error shape, so probes and operators see every check.
 *
 * `nonCritical` checks run alongside and are shown in `details` with their own status (`down`
 * included), but never decide the answer: a dependency the app degrades without (Redis for the
 * orchestrator) must not take every replica out of its Service when it fails.
 */
export async function answerReadiness(
  reply: FastifyReply,
  run: () => Promise<HealthCheckResult>,
  nonCritical: (() => Promise<HealthIndicatorResult>)[] = [],
): Promise<HealthCheckResult> {
  const shown = Promise.all(nonCritical.map((check) => check()));
  let result: HealthCheckResult;
  try {
    result = await run();
  } catch (err) {
    if (!(err instanceof ServiceUnavailableException)) throw err;
    void reply.status(503).header('Retry-After', String(READINESS_RETRY_AFTER_S));
    result = err.getResponse() as HealthCheckResult;
  }
  for (const detail of await shown) Object.assign(result.details, detail);
  return result;
}
