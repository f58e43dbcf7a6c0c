import { OpenAiLlmClient } from './openai-llm.client';
import { countsAsBreakerFailure, LlmHttpError, LlmNetworkError, LlmTimeoutError } from './llm.errors';

describe('LLM error classification', () => {
  it.each([400, 401, 403, 404, 413, 422])('%i is permanent and not a breaker failure', (status) => {
    const err = new LlmHttpError(status, null, 'bad');
    expect(err.permanent).toBe(true);
    expect(countsAsBreakerFailure(err)).toBe(false);
  });

  it.each([408, 429, 500, 502, 503, 504])('%i is transient and a breaker failure', (status) => {
    const err = new LlmHttpError(status, null, '');
    expect(err.permanent).toBe(false);
    expect(countsAsBreakerFailure(err)).toBe(true);
  });

  it('timeouts and network errors count against the breaker', () => {
    expect(countsAsBreakerFailure(new LlmTimeoutError(100))).toBe(true);
    expect(countsAsBreakerFailure(new LlmNetworkError('refused'))).toBe(true);
  });

  it('keeps the message short and on one line', () => {
    const err = new LlmHttpError(500, 1000, `line one\nline two ${'x'.repeat(1000)}`);
    expect(err.message.startsWith('LLM responded 500: line one line two')).toBe(true);
    expect(err.message.length).toBeLessThan(330);
    expect(err.retryAfterMs).toBe(1000);
  });
});

describe('OpenAiLlmClient endpoint', () => {
  it('names the endpoint without credentials (it labels metrics and logs)', () => {
    const client = new OpenAiLlmClient('https://user:secret@llm.example.com/v1/', 'key');
    expect(client.endpoint).toBe('https://llm.example.com/v1/chat/completions');
  });
});
