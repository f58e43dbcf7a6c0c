import type { AppEnv } from '@app/platform';

/**
 * Graceful shutdown, as the orchestrator runs it on SIGTERM (Nest's enableShutdownHooks):
 * 1. readiness answers 503 at once and the app keeps serving for SHUTDOWN_GRACE_MS (Terminus),
 *    so the load balancer stops sending;
 * 2. Fastify stops accepting, wakes long-polls, and waits for in-flight requests;
 * 3. the Bull queue, Redis connections and the pg pool close.
 * A request or a pool that never finishes must not hold the pod until Kubernetes kills it, so
 * this deadline ends the process SHUTDOWN_GRACE_MS + SHUTDOWN_DRAIN_MS after the signal
 * (defaults 5 + 10 s, under the 30 s Kubernetes default). Only main.ts arms it: tests build apps
 * in-process.
 */
export function armShutdownDeadline(env: AppEnv): void {
  const deadlineMs = env.SHUTDOWN_GRACE_MS + env.SHUTDOWN_DRAIN_MS;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // `once`: when Nest re-raises the signal after a clean close, no listener is left and the process ends.
    process.once(signal, () => {
      setTimeout(() => {
        console.error(
          JSON.stringify({
            level: 'error',
            app: 'orchestrator',
            msg: `shutdown did not finish within ${deadlineMs} ms; exiting anyway`,
          }),
        );
        process.exit(1);
      }, deadlineMs).unref();
    });
  }
}
