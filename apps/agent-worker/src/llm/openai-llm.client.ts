import { parseRetryAfter } from '../retry/backoff';
import type { ChatCompletion, ChatRequest, LlmClient } from './llm-client';
import { LlmHttpError, LlmNetworkError, LlmResponseError } from './llm.errors';

interface CompletionBody {
  model?: unknown;
  choices?: { message?: { content?: unknown } }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/**
 * OpenAI-compatible Chat Completions over HTTP: OpenAI, vLLM, Ollama (/v1) and llm-sim all speak
 * it. Timeouts are not handled here: the circuit breaker aborts `signal` when a call is too slow,
 * which closes the socket (the downstream sees the client go away).
 */
export class OpenAiLlmClient implements LlmClient {
  readonly provider = 'openai';
  /** The URL without credentials: it names the breaker in logs, metrics and readiness. */
  readonly endpoint: string;
  private readonly url: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
  ) {
    this.url = `${baseUrl.replace(/\/+$/, '')}/chat/completions`;
    const shown = new URL(this.url);
    shown.username = '';
    shown.password = '';
    this.endpoint = shown.toString();
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'idempotency-key': request.idempotencyKey,
    };
    if (request.requestId) headers['x-request-id'] = request.requestId;
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;

    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers,
        signal,
        body: JSON.stringify({
          model: request.model,
          messages: request.messages,
          temperature: request.temperature,
          max_tokens: request.maxTokens,
        }),
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new LlmNetworkError(`LLM request failed: ${describeFetchError(err)}`, { cause: err });
    }

    if (!res.ok) {
      const detail = await res.text().catch(() => '');
      throw new LlmHttpError(res.status, parseRetryAfter(res.headers.get('retry-after')), detail);
    }
    let body: CompletionBody;
    try {
      body = (await res.json()) as CompletionBody;
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new LlmResponseError('LLM response is not JSON');
    }
    const text = body?.choices?.[0]?.message?.content;
    if (typeof text !== 'string' || text.trim() === '') {
      throw new LlmResponseError('LLM response has no choices[0].message.content');
    }
    return {
      text,
      model: typeof body.model === 'string' && body.model ? body.model : request.model,
      promptTokens: count(body.usage?.prompt_tokens),
      completionTokens: count(body.usage?.completion_tokens),
    };
  }
}

/** undici reports "fetch failed" and hides the useful part (ECONNREFUSED ...) in `cause`. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return cause ? `${err.message} (${cause})` : err.message;
}
