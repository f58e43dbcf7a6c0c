import type { TaskInput } from '@app/db';
import { createHash } from 'node:crypto';

export interface AgentPersona {
  id: string;
  name: string;
  systemPrompt: string;
}

export interface AgentOutput {
  hook: string;
  body: string;
  tokensUsed: number;
  model: string;
}

export const BUILTIN_MODEL = 'builtin-v1';

const HOOKS = [
  (s: string) => `${s}: the part nobody puts in the slide deck.`,
  (s: string) => `I used to get ${s} wrong. Here is what changed my mind.`,
  (s: string) => `Three honest lessons about ${s}.`,
  (s: string) => `${s} is not a tooling problem. It is a feedback-loop problem.`,
];

const CLOSERS = [
  'What would you try first?',
  'Start small, measure, then decide.',
  'The boring fix is usually the right one.',
  'Write down the number before and after. Then argue.',
];

/** Rough token estimate (about 0.75 words per token), enough for usage accounting. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.split(/\s+/).filter(Boolean).length / 0.75);
}

/**
 * A deterministic, offline agent: the same persona and input always give the same post.
 * It lets the platform run end to end with no network and no model.
 */
export function generateBuiltinPost(persona: AgentPersona, taskType: string, input: TaskInput): AgentOutput {
  const seed = createHash('sha256')
    .update(JSON.stringify([persona.id, taskType, input.pain_statement, input.trend_snippet, input.topic]))
    .digest();
  const subject = (input.topic ?? input.pain_statement ?? input.trend_snippet ?? 'this').trim();
  const hook = HOOKS[seed[0] % HOOKS.length](subject.length > 80 ? `${subject.slice(0, 77)}...` : subject);

  const points = [
    input.pain_statement && `The pain: ${input.pain_statement.trim()}`,
    input.trend_snippet && `What is changing: ${input.trend_snippet.trim()}`,
    input.topic && `Why ${input.topic.trim()} matters now: small teams feel every slow loop.`,
    `${persona.name}'s take: fix the loop you run most often, not the one that is most fun to fix.`,
    CLOSERS[seed[1] % CLOSERS.length],
  ].filter((p): p is string => Boolean(p));

  const body =
    taskType === 'generate_thread'
      ? points.map((p, i) => `${i + 1}/${points.length} ${p}`).join('\n\n')
      : points.join('\n\n');
  return {
    hook,
    body,
    tokensUsed: estimateTokens(`${persona.systemPrompt} ${hook} ${body}`),
    model: BUILTIN_MODEL,
  };
}
