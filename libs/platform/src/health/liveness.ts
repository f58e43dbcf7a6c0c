import type { FastifyInstance } from 'fastify';

export const LIVENESS_PATH = '/health/live';
const LIVE_BODY = JSON.stringify({ status: 'ok' });

/**
 * Liveness answered by Fastify itself, not through Nest's router, guards and pipes: it must say
 * only "this process serves HTTP", it is probed every few seconds by every kubelet, and it must
 * keep answering when anything behind the framework is slow. The app's hooks (shedding
 * exemption, metrics, headers) still apply.
 */
export function registerLiveness(fastify: FastifyInstance): void {
  fastify.get(LIVENESS_PATH, (_request, reply) => {
    void reply.type('application/json; charset=utf-8').send(LIVE_BODY);
  });
}
