/**
 * Think time: how long a virtual user pauses after a response, chosen by its outcome. The seed's
 * headline run slept 0.1 s after a success, 2 s after a 429 and 0.5 s after anything else.
 *
 * Rules are keyed by "success", an exact status code ("429", "503"), or "other" (every other failure,
 * network errors included). A value is seconds, or {min, max} for a uniform random pause.
 */
export type ThinkValue = number | { min: number; max: number };

export interface ThinkTimeRules {
  success: ThinkValue;
  other: ThinkValue;
  [status: string]: ThinkValue;
}

export interface Outcome {
  ok: boolean;
  /** HTTP status, or 0 for a network error / timeout. */
  status: number;
}

export function thinkRuleFor(rules: ThinkTimeRules, outcome: Outcome): ThinkValue {
  if (outcome.ok) return rules.success;
  return rules[String(outcome.status)] ?? rules.other;
}

/** Milliseconds to pause after this outcome; `random` is injectable so tests are deterministic. */
export function thinkTimeMs(
  rules: ThinkTimeRules,
  outcome: Outcome,
  random: () => number = Math.random,
): number {
  const rule = thinkRuleFor(rules, outcome);
  const seconds = typeof rule === 'number' ? rule : rule.min + (rule.max - rule.min) * random();
  return Math.max(0, Math.round(seconds * 1000));
}

/** The pause after a success, on average: with the users curve it gives the request budget of a stage. */
export function meanSuccessThinkSeconds(rules: ThinkTimeRules): number {
  const rule = rules.success;
  return typeof rule === 'number' ? rule : (rule.min + rule.max) / 2;
}
