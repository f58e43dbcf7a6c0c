import { AppConfig } from '@app/platform';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type CircuitBreaker from 'opossum';
import { Counter, Registry } from 'prom-client';
import { CircuitBreakerService } from '../breaker/circuit-breakers.service';
import { jitteredExponential, sleep } from '../retry/backoff';
import type { JobLogContext } from '../common/job-log-context';
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
 */
@Injectable()
export class LlmService {
  private readonly logger = new Logger(LlmService.name);
  private readonly breaker: CircuitBreaker<[AbortController, ChatRequest], ChatCompletion>;
  private readonly quickRetries: Counter;

  constructor(
    @Inject(LLM_CLIENT) private readonly client: LlmClient,
    breakers: CircuitBreakerService,
    private readonly config: AppConfig,
    registry: Registry,
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
    for (let retry = 0; ; retry++) {
      // Half-open: this call is the breaker's one trial (or is rejected as another caller took it).
      const trial = this.breaker.halfOpen;
      try {
        return await this.breaker.fire(new AbortController(), request);
      } catch (raw) {
        let err = this.normalize(raw);
        // A failed trial only confirms the downstream is still down (the breaker is open again):
        // that is the breaker's business, not this task's, so it is a deferral, not an attempt.
        if (trial && this.breaker.opened && countsAsBreakerFailure(err)) {
          err = new LlmUnavailableError(this.breaker.name, { cause: err });
        }
        const retryable = !(err instanceof LlmUnavailableError) && countsAsBreakerFailure(err);
        if (!retryable || retry >= maxRetries) throw err;
        const delay = Math.max(
          jitteredExponential(retry + 1, this.config.get('LLM_RETRY_BASE_MS'), QUICK_RETRY_MAX_DELAY_MS),
          err instanceof LlmHttpError ? (err.retryAfterMs ?? 0) : 0,
        );
        if (delay > QUICK_RETRY_MAX_DELAY_MS) throw err;
        this.quickRetries.inc();
        this.logger.debug(
          { ...log, step: request.idempotencyKey, retry: retry + 1, delayMs: delay, err: err.message },
          'LLM call failed; retrying',
        );
        await sleep(delay);
      }
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
