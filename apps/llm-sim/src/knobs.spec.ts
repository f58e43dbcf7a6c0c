import { loadConfig } from '@app/platform';
import { knobsFromEnv } from './knobs';

describe('llm-sim knobs from the environment', () => {
  it('defaults to a healthy, slightly slow model', () => {
    expect(knobsFromEnv(loadConfig({}))).toEqual({
      latencyMs: 50,
      jitterMs: 0,
      errorRate: 0,
      errorStatus: [500, 502, 503],
      timeoutRate: 0,
      outage: false,
      rateLimitRate: 0,
      retryAfterS: 1,
      rpmLimit: 0,
      streamChunkMs: 0,
      streamBreakRate: 0,
    });
  });

  it('reads every LLM_SIM_* variable', () => {
    const knobs = knobsFromEnv(
      loadConfig({
        LLM_SIM_LATENCY_MS: '200',
        LLM_SIM_JITTER_MS: '20',
        LLM_SIM_ERROR_RATE: '0.2',
        LLM_SIM_ERROR_STATUS: '500, 504',
        LLM_SIM_TIMEOUT_RATE: '0.01',
        LLM_SIM_OUTAGE: 'true',
        LLM_SIM_RATE_LIMIT_RATE: '0.05',
        LLM_SIM_RETRY_AFTER_S: '3',
        LLM_SIM_RPM_LIMIT: '1200',
        LLM_SIM_STREAM_CHUNK_MS: '15',
        LLM_SIM_STREAM_BREAK_RATE: '0.1',
      }),
    );
    expect(knobs).toEqual({
      latencyMs: 200,
      jitterMs: 20,
      errorRate: 0.2,
      errorStatus: [500, 504],
      timeoutRate: 0.01,
      outage: true,
      rateLimitRate: 0.05,
      retryAfterS: 3,
      rpmLimit: 1200,
      streamChunkMs: 15,
      streamBreakRate: 0.1,
    });
  });

  it('rejects a bad status list or rate, naming the variable', () => {
    expect(() => loadConfig({ LLM_SIM_ERROR_STATUS: '500,abc' })).toThrow(
      /LLM_SIM_ERROR_STATUS: must be a comma-separated list/,
    );
    expect(() => loadConfig({ LLM_SIM_ERROR_RATE: '1.5' })).toThrow(/LLM_SIM_ERROR_RATE: must be <= 1/);
  });
});
