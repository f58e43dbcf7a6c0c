import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** The headers helmet sets for these options, computed once. */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  // Our policy has no per-request parts (no CSP nonces), so one run of helmet's middleware
  // yields every header it would ever set. @fastify/helmet rebuilt the middleware and
  // re-parsed the CSP on every request: 8% of the orchestrator's CPU on a cheap route.
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return headers;
}

/** Helmet's policy for the orchestrator: the API answers JSON; the CSP matters for /docs and /admin/queues. */
export const ORCHESTRATOR_HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      scriptSrc: ["'self'", "'unsafe-inline'"],
      // TLS ends at the ingress; on plain http (dev, port-forward) this would break both UIs.
      upgradeInsecureRequests: null,
    },
  },
};
