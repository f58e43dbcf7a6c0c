/**
 * Routes that machines call, not clients: kubelet probes and Prometheus scrapes. They are never
 * shed (an overloaded replica must still say so), neither timed nor logged per request (probes
 * every few seconds per pod would drown the logs and the client latency histogram), and carry no
 * browser security headers (nothing renders them). Fastify route patterns, as in `request.routeOptions.url`.
 */
export const OPERATIONAL_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready', '/metrics']);

export function isOperationalRoute(route: string | undefined): boolean {
  return route !== undefined && OPERATIONAL_ROUTES.has(route);
}
