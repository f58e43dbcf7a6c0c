/**
 * Stand-in for k6's built-in modules (k6, k6/http, k6/execution, k6/metrics) so the unit tests can run
 * the k6 scripts' logic in Node. It records requests, sleeps and metric samples; tests script the responses.
 */
export interface StubResponse {
  status: number;
  body?: unknown;
}

export const recorded = {
  requests: [] as { method: string; url: string; body: string | null; params: any }[],
  sleeps: [] as number[],
  metrics: [] as { name: string; value: unknown; tags: any }[],
};

let responder: (method: string, url: string) => StubResponse = () => ({ status: 200, body: {} });

export function respondWith(fn: (method: string, url: string) => StubResponse): void {
  responder = fn;
}

export function resetStub(): void {
  recorded.requests.length = 0;
  recorded.sleeps.length = 0;
  recorded.metrics.length = 0;
}

export function sleep(seconds: number): void {
  recorded.sleeps.push(seconds);
}

class Metric {
  constructor(readonly name: string) {}
  add(value: unknown, tags?: unknown): void {
    recorded.metrics.push({ name: this.name, value, tags });
  }
}
export class Rate extends Metric {}
export class Counter extends Metric {}
export class Trend extends Metric {}

function request(method: string, url: string, body: string | null = null, params: any = {}) {
  recorded.requests.push({ method, url, body, params });
  const res = responder(method, url);
  return { status: res.status, json: (key?: string) => (key ? (res.body as any)?.[key] : res.body) };
}

const stub = {
  // k6/http
  request,
  post: (url: string, body: string | null, params?: any) => request('POST', url, body, params),
  del: (url: string, body: string | null, params?: any) => request('DELETE', url, body, params),
  expectedStatuses: (...expected: unknown[]) => ({ expected }),
  // k6/execution
  vu: { idInTest: 1 },
  scenario: { startTime: Date.now() },
};
export default stub;
