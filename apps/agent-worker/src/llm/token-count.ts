/**
 * Rough token estimate (about 0.75 words per token), enough for usage accounting: the builtin
 * model's usage, and a provider's answer that reports none.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.split(/\s+/).filter(Boolean).length / 0.75);
}
