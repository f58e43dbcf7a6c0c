import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify `genReqId`: keep a caller's X-Request-ID when it is short and plain (so it can be
 * stored and logged safely), otherwise mint a new one.
 */
export function requestIdFrom(req: { headers: IncomingHttpHeaders }): string {
  const header = req.headers['x-request-id'];
  if (typeof header === 'string' && SAFE_REQUEST_ID.test(header)) return header;
  return randomUUID();
}
