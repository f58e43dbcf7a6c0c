import type { Knobs } from '../../../llm-sim/src/knobs';
import { buildLlmSim, type SimStats } from '../../../llm-sim/src/llm-sim';

export const DEFAULT_KNOBS: Knobs = {
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  errorStatus: [503],
  timeoutRate: 0,
  outage: false,
  rateLimitRate: 0,
  retryAfterS: 1,
  rpmLimit: 0,
  streamChunkMs: 0,
  streamBreakRate: 0,
};

export interface RunningSim {
  /** OpenAI-style base URL (…/v1), what LLM_BASE_URL takes. */
  baseUrl: string;
  url: string;
  setKnobs(patch: Partial<Knobs>): Promise<Knobs>;
  stats(): Promise<SimStats>;
  resetStats(): Promise<void>;
  close(): Promise<void>;
}

/** llm-sim in this process on an ephemeral port, driven over real HTTP like any client would. */
export async function startLlmSim(knobs: Partial<Knobs> = {}): Promise<RunningSim> {
  const { app } = buildLlmSim({ ...DEFAULT_KNOBS, ...knobs }, 'silent');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`llm-sim ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    url,
    baseUrl: `${url}/v1`,
    setKnobs: (patch) => call('PATCH', '/admin/knobs', patch) as Promise<Knobs>,
    stats: () => call('GET', '/admin/stats') as Promise<SimStats>,
    resetStats: async () => void (await call('POST', '/admin/stats/reset')),
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
