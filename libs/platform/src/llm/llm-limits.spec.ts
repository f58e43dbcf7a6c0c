import { loadConfig } from '../config/load-config';
import { llmMaxInFlight, workerJobConcurrency } from './llm-limits';

describe('worker limits: pipeline slots and LLM calls in flight', () => {
  it('gives the openai provider a thousand calls in flight on top of the pipeline slots', () => {
    const env = loadConfig({ LLM_PROVIDER: 'openai' });
    expect(llmMaxInFlight(env)).toBe(1000);
    expect(workerJobConcurrency(env)).toBe(1016);
  });

  it('gives the builtin provider no calls in flight: its calls are CPU work inside WORKER_CONCURRENCY', () => {
    const env = loadConfig({ WORKER_CONCURRENCY: '24' });
    expect(llmMaxInFlight(env)).toBe(0);
    expect(workerJobConcurrency(env)).toBe(24);
  });

  it('takes LLM_MAX_IN_FLIGHT when set, 0 included; auto is the provider default', () => {
    expect(workerJobConcurrency(loadConfig({ LLM_PROVIDER: 'openai', LLM_MAX_IN_FLIGHT: '200' }))).toBe(216);
    expect(workerJobConcurrency(loadConfig({ LLM_PROVIDER: 'openai', LLM_MAX_IN_FLIGHT: '0' }))).toBe(16);
    expect(llmMaxInFlight(loadConfig({ LLM_PROVIDER: 'openai', LLM_MAX_IN_FLIGHT: 'auto' }))).toBe(1000);
  });

  it('rejects a bad value, naming the variable', () => {
    for (const bad of ['-1', 'many', '1.5', '100001'])
      expect(() => loadConfig({ LLM_MAX_IN_FLIGHT: bad })).toThrow(
        /LLM_MAX_IN_FLIGHT: must be auto or a whole number from 0 to 100000/,
      );
  });
});
