import { sendError, TASK_QUEUE } from '@app/platform';
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bull';
import type { FastifyInstance } from 'fastify';
import { toErrorResponse } from '@app/platform';
import { ApiKeyRegistry } from '../protection/auth/api-key.registry';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board at /admin/queues: operators see waiting/active/failed jobs and retry them. It is a
 * Fastify plugin, not a Nest route, so Nest guards never see it; an onRequest hook in its own
 * encapsulated scope demands an API key with the `admin` scope (open in dev mode, like /v1).
 * Browsers do not send X-API-Key on their own: reach it through a header-adding proxy or a
 * browser extension, or in dev mode.
 */
export async function mountQueueDashboard(app: NestFastifyApplication): Promise<void> {
  const keys = app.get(ApiKeyRegistry);
  const queue = app.get<Queue>(getQueueToken(TASK_QUEUE));
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [new BullAdapter(queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'agent-platform queues' } },
  });
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', (request, reply, done) => {
      const refusal = keys.authorize(request, ['admin']);
      if (refusal) return sendError(reply, toErrorResponse(refusal));
      done();
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
