import type { AppEnv } from '@app/platform';
import { z } from 'zod';

/** What llm-sim does to each request; set from LLM_SIM_* at start, changed at run time via PATCH /admin/knobs. */
export interface Knobs {
  /** Mean latency of a reply. */
  latencyMs: number;
  /** The latency varies uniformly by up to this much either side of the mean. */
  jitterMs: number;
  /** Share of requests (0..1) answered with one of `errorStatus`. */
  errorRate: number;
  errorStatus: number[];
  /** Share of requests never answered: the client has to time out. */
  timeoutRate: number;
  /** Every request gets 503 at once. */
  outage: boolean;
  /** Share of requests answered 429 with Retry-After: `retryAfterS`. */
  rateLimitRate: number;
  retryAfterS: number;
  /** Requests a minute accepted (enforced over short periods, like a provider); 0: no limit. */
  rpmLimit: number;
  /** Delay between the chunks of a streamed answer (after the latency). */
  streamChunkMs: number;
  /** Share of streamed answers cut off mid-way: the connection closes before [DONE]. */
  streamBreakRate: number;
}

export function knobsFromEnv(env: AppEnv): Knobs {
  return {
    latencyMs: env.LLM_SIM_LATENCY_MS,
    jitterMs: env.LLM_SIM_JITTER_MS,
    errorRate: env.LLM_SIM_ERROR_RATE,
    errorStatus: env.LLM_SIM_ERROR_STATUS,
    timeoutRate: env.LLM_SIM_TIMEOUT_RATE,
    outage: env.LLM_SIM_OUTAGE,
    rateLimitRate: env.LLM_SIM_RATE_LIMIT_RATE,
    retryAfterS: env.LLM_SIM_RETRY_AFTER_S,
    rpmLimit: env.LLM_SIM_RPM_LIMIT,
    streamChunkMs: env.LLM_SIM_STREAM_CHUNK_MS,
    streamBreakRate: env.LLM_SIM_STREAM_BREAK_RATE,
  };
}

const rate = z.number().min(0).max(1);

/** PATCH /admin/knobs body: any subset of the knobs; an unknown field is an error, not ignored. */
export const knobsPatchSchema = z
  .object({
    latencyMs: z.number().int().min(0).max(600000),
    jitterMs: z.number().int().min(0).max(600000),
    errorRate: rate,
    errorStatus: z.array(z.number().int().min(400).max(599)).min(1),
    timeoutRate: rate,
    outage: z.boolean(),
    rateLimitRate: rate,
    retryAfterS: z.number().int().min(0).max(3600),
    rpmLimit: z.number().int().min(0).max(100000000),
    streamChunkMs: z.number().int().min(0).max(60000),
    streamBreakRate: rate,
  })
  .partial()
  .strict();
