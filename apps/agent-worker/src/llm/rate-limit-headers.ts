/**
 * What a provider says about its own limits on every answer (OpenAI's x-ratelimit-* headers; vLLM
 * and proxies such as LiteLLM send the same names). Absent or unreadable values are null.
 */
export interface RateLimitState {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

/** Remaining at or below this share of the limit is "running low". */
export const LOW_SHARE = 0.05;

const UNIT_MS: Record<string, number> = { h: 3600000, m: 60000, s: 1000, ms: 1 };

/** "6m0s", "1.5s", "20ms", "1h2m3s" (or plain seconds, "2") in ms; null when unreadable. */
export function parseResetDuration(value: string | null): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return null;
  return Math.round(parts.reduce((ms, [, n, unit]) => ms + Number(n) * UNIT_MS[unit], 0));
}

function count(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value.trim());
}

export function readRateLimitHeaders(header: (name: string) => string | null): RateLimitState {
  return {
    limitRequests: count(header('x-ratelimit-limit-requests')),
    remainingRequests: count(header('x-ratelimit-remaining-requests')),
    resetRequestsMs: parseResetDuration(header('x-ratelimit-reset-requests')),
    limitTokens: count(header('x-ratelimit-limit-tokens')),
    remainingTokens: count(header('x-ratelimit-remaining-tokens')),
    resetTokensMs: parseResetDuration(header('x-ratelimit-reset-tokens')),
  };
}

function spacing(
  limit: number | null,
  remaining: number | null,
  resetMs: number | null,
  cost: number,
): number {
  if (remaining === null || resetMs === null) return 0;
  const low = limit === null ? remaining <= cost : remaining <= Math.max(cost, limit * LOW_SHARE);
  if (!low) return 0;
  // Spread what is left evenly over the time until the window resets.
  return Math.round(resetMs * Math.min(1, cost / Math.max(remaining, 1)));
}

/**
 * How long the next call should wait when the provider's remaining requests or tokens run low
 * (at or below 5% of the limit): the time until the reset, divided among what remains, so the rest
 * of the window is spent evenly instead of in a burst that ends in 429s. 0 when nothing is low.
 */
export function slowDownMs(state: RateLimitState, callTokens: number): number {
  return Math.max(
    spacing(state.limitRequests, state.remainingRequests, state.resetRequestsMs, 1),
    spacing(state.limitTokens, state.remainingTokens, state.resetTokensMs, callTokens),
  );
}
