import type { RateLimitState } from './rate-limit-headers';

/** The part of the OpenAI Chat Completions contract the agent pipeline uses. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  /**
   * Sent as the Idempotency-Key header: the task id plus the pipeline step ("<task id>:hook"),
   * so a retried call is recognisable downstream while the hook and body calls, which are
   * different requests, do not collide.
   */
  idempotencyKey: string;
  /** X-Request-ID of the request that created the task, forwarded for tracing. */
  requestId: string | null;
  /**
   * Called with each piece of a streamed answer as it arrives, `offset` being where the piece
   * starts in this try's answer: a retried call starts again at 0. Not called for an answer that
   * comes whole (the builtin model, a server that ignores `stream`): the post follows at once.
   */
  onDelta?: (text: string, offset: number) => void;
  /**
   * False: wait for the provider budget however long it takes, instead of deferring the job when
   * the wait passes LLM_BUDGET_MAX_WAIT_MS (for a call whose job already paid for earlier calls).
   */
  deferOnLongWait?: boolean;
  /**
   * Aborted when the caller no longer wants the answer (its task was cancelled): the request in
   * flight is aborted with the signal's reason, and no retry follows.
   */
  signal?: AbortSignal;
}

export interface ChatCompletion {
  text: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** The provider's x-ratelimit-* headers, when it sent them. */
  rateLimit?: RateLimitState;
}

/** One downstream model API. Implementations throw the errors of llm.errors.ts. */
export interface LlmClient {
  readonly provider: 'builtin' | 'openai';
  /** What the circuit breaker protects: one breaker per provider and endpoint. */
  readonly endpoint: string;
  complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion>;
  /** Releases connections on shutdown. */
  close?(): Promise<void>;
}

export const LLM_CLIENT = Symbol('LLM_CLIENT');
