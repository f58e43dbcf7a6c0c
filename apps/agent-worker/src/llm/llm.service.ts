import { AppConfig, llmMaxInFlight } from '@app/platform';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Semaphore } from 'async-mutex';
import type CircuitBreaker from 'opossum';
import { Counter, Gauge, Registry } from 'prom-client';
import { CircuitBreakerService } from '../breaker/circuit-breakers.service';
import { jitteredExponential, sleep } from '../retry/backoff';
import type { JobLogContext } from '../common/job-log-context';
import { estimateRequestTokens, LlmBudget } from './llm-budget';
import { LLM_CLIENT, type ChatCompletion, type ChatRequest, type LlmClient } from './llm-client';
import { countsAsBreakerFailure, LlmHttpError, LlmTimeoutError, LlmUnavailableError } from './llm.errors';

/** A quick retry never waits longer than this; a longer Retry-After is left to the task's own backoff. */
const QUICK_RETRY_MAX_DELAY_MS = 5000;

interface OpossumError extends Error {
  code?: string;
}

/**
 * Every LLM call of the worker: through the endpoint's circuit breaker, with a few quick retries
 * of transient failures inside one task attempt (the OpenAI SDK does the same, 2 by default).
 * Each try goes through the breaker, so a failing downstream still opens it; once open, nothing
 * is retried here and the caller gets LlmUnavailableError at once.
 *
 * Each try first takes its place in the provider budget (LlmBudget: requests and tokens a minute
 * shared by all workers, and the pauses the provider asks for); a long wait defers the job
 * instead (LlmBudgetDeferral). A 429 pauses every call until its Retry-After.
 *
 * At most LLM_MAX_IN_FLIGHT tries are in flight at once (none with the builtin provider, whose
 * calls are CPU work bounded by the pipeline slots); a try waiting for its turn is not in flight
 * yet, so the breaker's timeout does not run for it.
 */
@Injectable()
export class LlmService implements OnApplicationShutdown {
  private readonly logger = new Logger(LlmService.name);
  private readonly breaker: CircuitBreaker<[AbortController, ChatRequest], ChatCompletion>;
  private readonly quickRetries: Counter;
  private readonly inFlight: Semaphore | null;
  private readonly inFlightGauge: Gauge;

  constructor(
    @Inject(LLM_CLIENT) private readonly client: LlmClient,
    breakers: CircuitBreakerService,
    private readonly config: AppConfig,
    registry: Registry,
    private readonly budget: LlmBudget,
  ) {
    this.breaker = breakers.create(
      `llm:${client.provider}:${client.endpoint}`,
      (controller: AbortController, request: ChatRequest) => client.complete(request, controller.signal),
      { errorFilter: (err) => !countsAsBreakerFailure(err) },
    );
    this.quickRetries = new Counter({
      name: 'llm_call_retries_total',
      help: 'Quick retries of an LLM call inside one task attempt (LLM_MAX_RETRIES).',
      registers: [registry],
    });
    const maxInFlight = llmMaxInFlight(config.values);
    this.inFlight = maxInFlight > 0 ? new Semaphore(maxInFlight) : null;
    this.inFlightGauge = new Gauge({
      name: 'llm_calls_in_flight',
      help: 'LLM calls this worker has in flight now.',
      registers: [registry],
    });
    new Gauge({
      name: 'llm_calls_max_in_flight',
      help: 'LLM calls this worker keeps in flight at most (LLM_MAX_IN_FLIGHT, or the provider default; 0: bounded by WORKER_CONCURRENCY).',
      registers: [registry],
    }).set(maxInFlight);
  }

  get breakerName(): string {
    return this.breaker.name;
  }

  /**
   * False while the breaker would reject a call: open, or half-open with its one trial call
   * already taken. Lets the worker put a job back before claiming the task.
   */
  get acceptingCalls(): boolean {
    return this.breaker.closed || (this.breaker.halfOpen && this.breaker.pendingClose);
  }

  async complete(request: ChatRequest, log: JobLogContext): Promise<ChatCompletion> {
    const maxRetries = this.config.get('LLM_MAX_RETRIES');
    const chars = request.messages.reduce((n, m) => n + m.content.length, 0);
    const tokens = estimateRequestTokens(chars, request.maxTokens);
    for (let retry = 0; ; retry++) {
      const reservation = await this.budget.acquire(tokens, request.deferOnLongWait ?? true);
      request.signal?.throwIfAborted();
      const outcome = await this.fire(request);
      if ('completion' in outcome) {
        const { completion } = outcome;
        const used = completion.promptTokens + completion.completionTokens;
        reservation.settle(used > 0 ? used : null);
        void this.budget.observe(completion.rateLimit, tokens);
        return completion;
      }
      const { err } = outcome;
      if (err instanceof LlmHttpError && err.status === 429) void this.budget.rateLimited(err.retryAfterMs);
      const retryable = !(err instanceof LlmUnavailableError) && countsAsBreakerFailure(err);
      if (!retryable || retry >= maxRetries) throw err;
      const delay = Math.max(
        jitteredExponential(retry + 1, this.config.get('LLM_RETRY_BASE_MS'), QUICK_RETRY_MAX_DELAY_MS),
        err instanceof LlmHttpError ? (err.retryAfterMs ?? 0) : 0,
      );
      if (delay > QUICK_RETRY_MAX_DELAY_MS) throw err;
      request.signal?.throwIfAborted();
      this.quickRetries.inc();
      this.logger.debug(
        { ...log, step: request.idempotencyKey, retry: retry + 1, delayMs: delay, err: err.message },
        'LLM call failed; retrying',
      );
      await sleep(delay);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close?.();
  }

  /** One try, in an in-flight slot, through the breaker. */
  private async fire(request: ChatRequest): Promise<{ completion: ChatCompletion } | { err: Error }> {
    const release = this.inFlight ? (await this.inFlight.acquire())[1] : null;
    this.inFlightGauge.inc();
    // Half-open: this call is the breaker's one trial (or is rejected as another caller took it).
    const trial = this.breaker.halfOpen;
    // The caller's cancellation aborts this try's request, as the breaker's timeout does.
    const controller = new AbortController();
    const cancel = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', cancel, { once: true });
    try {
      request.signal?.throwIfAborted();
      return { completion: await this.breaker.fire(controller, request) };
    } catch (raw) {
      const err = this.normalize(raw);
      // A failed trial only confirms the downstream is still down (the breaker is open again):
      // that is the breaker's business, not this task's, so it is a deferral, not an attempt.
      if (trial && this.breaker.opened && countsAsBreakerFailure(err)) {
        return { err: new LlmUnavailableError(this.breaker.name, { cause: err }) };
      }
      return { err };
    } finally {
      request.signal?.removeEventListener('abort', cancel);
      this.inFlightGauge.dec();
      release?.();
    }
  }

  /** opossum rejects with plain errors carrying a code; give them types the worker can classify. */
  private normalize(raw: unknown): Error {
    const err: OpossumError = raw instanceof Error ? raw : new Error(String(raw));
    if (err.code === 'EOPENBREAKER') return new LlmUnavailableError(this.breaker.name);
    if (err.code === 'ETIMEDOUT' && err.message.startsWith('Timed out after')) {
      return new LlmTimeoutError(this.config.get('LLM_BREAKER_TIMEOUT_MS'));
    }
    return err;
  }
}
