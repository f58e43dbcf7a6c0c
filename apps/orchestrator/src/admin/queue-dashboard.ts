import { sendError, TASK_QUEUE } from '@app/platform';
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bull';
import type { FastifyInstance } from 'fastify';
import { toErrorResponse } from '@app/platform';
import { API_KEY_HEADER, ApiKeyRegistry } from '../protection/auth/api-key.registry';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';
const BASIC_CHALLENGE =
  'Basic realm="agent-platform queues (password: an API key with the admin scope)", charset="UTF-8"';

/** The password of an HTTP Basic Authorization header, or undefined. */
export function basicAuthPassword(header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * bull-board at /admin/queues: operators see waiting/active/failed jobs and retry them. It is a
 * Fastify plugin, not a Nest route, so Nest guards never see it; an onRequest hook in its own
 * encapsulated scope demands an API key with the `admin` scope (open in dev mode, like /v1).
 * Browsers do not send X-API-Key on their own, so the key is also taken as the password of HTTP
 * Basic auth: a 401 here asks the browser for credentials (any user name, the key as password),
 * and the browser then sends them with every request of the page.
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
    scope.addHook('onRequest', async (request, reply) => {
      const basicKey = basicAuthPassword(request.headers.authorization);
      // The registry reads X-API-Key; in this scope a browser's Basic password stands in for it.
      if (basicKey !== undefined && request.headers[API_KEY_HEADER] === undefined) {
        request.headers[API_KEY_HEADER] = basicKey;
      }
      const refusal = await keys.authorize(request, ['admin']);
      if (refusal) {
        if (refusal.getStatus() === 401) void reply.header('WWW-Authenticate', BASIC_CHALLENGE);
        sendError(reply, toErrorResponse(refusal));
        return reply;
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
