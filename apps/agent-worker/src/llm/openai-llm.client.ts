import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Pool, type Dispatcher } from 'undici';
import { parseRetryAfter } from '../retry/backoff';
import type { ChatCompletion, ChatRequest, LlmClient } from './llm-client';
import { LlmHttpError, LlmNetworkError, LlmResponseError } from './llm.errors';
import { readRateLimitHeaders } from './rate-limit-headers';
import { estimateTokens } from './token-count';

interface Usage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
}

interface CompletionBody {
  model?: unknown;
  choices?: { message?: { content?: unknown } }[];
  usage?: Usage;
}

/** One event of a streamed answer (OpenAI's chat.completion.chunk), or an error sent mid-stream. */
interface CompletionChunk {
  model?: unknown;
  choices?: { delta?: { content?: unknown } }[];
  usage?: Usage | null;
  error?: { message?: unknown };
}

type ResponseBody = Dispatcher.ResponseData['body'];

/** Longest error body read from a failed answer (it only feeds the error message). */
const ERROR_DETAIL_MAX_BYTES = 4096;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export interface OpenAiClientOptions {
  /** Connections to the endpoint, at most; 0: no limit. One call in flight uses one connection. */
  connections: number;
  /** Ask for a streamed answer (server-sent events) and report its pieces through onDelta. */
  stream: boolean;
}

/**
 * OpenAI-compatible Chat Completions over HTTP: OpenAI, vLLM, Ollama (/v1) and llm-sim all speak
 * it. Timeouts are not handled here: the circuit breaker aborts `signal` when a call is too slow,
 * which closes the socket (the downstream sees the client go away).
 *
 * Streaming (`stream: true`, with `stream_options.include_usage` so the last chunk carries the
 * usage): the answer is the concatenation of the chunks' `delta.content`, each piece also handed
 * to `onDelta` as it arrives. A stream that ends or breaks before `data: [DONE]` is a failure
 * (LlmResponseError or LlmNetworkError), like any other: the breaker counts it and the call is
 * retried, from the start. A server that ignores `stream` and answers JSON is read as JSON.
 *
 * Calls go through undici's own request API on a keep-alive pool for this endpoint, not through
 * fetch: with a thousand calls in flight, fetch's WHATWG Request, Response, Headers and streams
 * per call were the worker's largest CPU cost after garbage collection, and their garbage its
 * largest memory cost.
 */
export class OpenAiLlmClient implements LlmClient {
  readonly provider = 'openai';
  /** The URL without credentials: it names the breaker in logs, metrics and readiness. */
  readonly endpoint: string;
  private readonly path: string;
  private readonly pool: Pool;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
    private readonly options: OpenAiClientOptions = { connections: 0, stream: false },
  ) {
    const url = new URL(`${baseUrl.replace(/\/+$/, '')}/chat/completions`);
    url.username = '';
    url.password = '';
    this.endpoint = url.toString();
    this.path = `${url.pathname}${url.search}`;
    this.pool = new Pool(url.origin, {
      connections: options.connections > 0 ? options.connections : null,
      pipelining: 1,
      // The breaker's timeout aborts a slow call; undici's own (300 s) would only race with it.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const stream = this.options.stream;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      'idempotency-key': request.idempotencyKey,
    };
    if (request.requestId) headers['x-request-id'] = request.requestId;
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;

    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers,
        signal,
        body: JSON.stringify({
          model: request.model,
          messages: request.messages,
          temperature: request.temperature,
          max_tokens: request.maxTokens,
          ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
        }),
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new LlmNetworkError(`LLM request failed: ${describeError(err)}`, { cause: err });
    }

    if (res.statusCode < 200 || res.statusCode >= 300) {
      const detail = await readCapped(res.body, ERROR_DETAIL_MAX_BYTES).catch(() => '');
      throw new LlmHttpError(res.statusCode, parseRetryAfter(header(res.headers, 'retry-after')), detail);
    }
    const rateLimit = readRateLimitHeaders((name) => header(res.headers, name));
    if ((header(res.headers, 'content-type') ?? '').startsWith('text/event-stream')) {
      return { ...(await this.readStream(res.body, request, signal)), rateLimit };
    }
    let body: CompletionBody;
    try {
      body = (await res.body.json()) as CompletionBody;
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new LlmResponseError('LLM response is not JSON');
    }
    const text = body?.choices?.[0]?.message?.content;
    if (typeof text !== 'string' || text.trim() === '') {
      throw new LlmResponseError('LLM response has no choices[0].message.content');
    }
    return { ...completion(text, body.model, body.usage, request), rateLimit };
  }

  /** Reads a streamed answer to its `[DONE]`, handing each piece to onDelta. */
  private async readStream(
    body: ResponseBody,
    request: ChatRequest,
    signal: AbortSignal,
  ): Promise<ChatCompletion> {
    let text = '';
    let model: unknown;
    let usage: Usage | null | undefined;
    let done = false;
    let failure: Error | null = null;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (done || failure) return;
        if (event.data === '[DONE]') {
          done = true;
          return;
        }
        let chunk: CompletionChunk;
        try {
          chunk = JSON.parse(event.data) as CompletionChunk;
        } catch {
          failure = new LlmResponseError('LLM stream sent an event that is not JSON');
          return;
        }
        if (chunk.error) {
          failure = new LlmResponseError(
            `LLM stream failed: ${String(chunk.error.message ?? 'error event')}`,
          );
          return;
        }
        model ??= chunk.model;
        if (chunk.usage) usage = chunk.usage;
        const piece = chunk.choices?.[0]?.delta?.content;
        if (typeof piece === 'string' && piece !== '') {
          const offset = text.length;
          text += piece;
          request.onDelta?.(piece, offset);
        }
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const part of body) {
        parser.feed(decoder.decode(part as Buffer, { stream: true }));
        if (failure) break;
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new LlmNetworkError(`LLM stream broke after ${text.length} characters: ${describeError(err)}`, {
        cause: err,
      });
    } finally {
      if (!body.destroyed) body.destroy();
    }
    if (failure) throw failure;
    if (!done) throw new LlmResponseError(`LLM stream ended before [DONE] after ${text.length} characters`);
    if (text.trim() === '') throw new LlmResponseError('LLM stream carried no content');
    return completion(text, model, usage, request);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

function completion(
  text: string,
  model: unknown,
  usage: Usage | null | undefined,
  request: ChatRequest,
): ChatCompletion {
  // A server that reports no usage (some OpenAI-compatible ones, or a stream without the usage
  // chunk) is counted here, so a task's usage is never silently zero.
  return {
    text,
    model: typeof model === 'string' && model ? model : request.model,
    promptTokens: isCount(usage?.prompt_tokens)
      ? usage.prompt_tokens
      : estimateTokens(request.messages.map((m) => m.content).join(' ')),
    completionTokens: isCount(usage?.completion_tokens) ? usage.completion_tokens : estimateTokens(text),
  };
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/** The first `maxBytes` of a body as text; the rest is discarded so the connection is freed. */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < maxBytes) chunks.push(buf.subarray(0, maxBytes - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** undici's errors name the socket problem in `code` (ECONNREFUSED ...), which the message may not. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return [err.message, typeof code === 'string' && !err.message.includes(code) ? code : '', cause]
    .filter(Boolean)
    .join(' ');
}
