import { readPromptFields } from '@app/platform';
import { createHash } from 'node:crypto';

export interface SimMessage {
  role: string;
  content: string;
}

export interface SimCompletion {
  id: string;
  content: string;
  promptTokens: number;
  completionTokens: number;
}

const HOOKS = [
  (s: string) => `${s}: what the dashboards do not show you.`,
  (s: string) => `Everyone talks about ${s}. Few of us measure it.`,
  (s: string) => `We changed one thing about ${s} and the week got quieter.`,
  (s: string) => `${s}, explained without the hype.`,
];

const CLOSERS = [
  'Which number would you watch first?',
  'Small steps, measured, beat big rewrites.',
  'Boring and measured wins again.',
  'Try it for a week and compare.',
];

const tokens = (text: string) => Math.ceil(text.split(/\s+/).filter(Boolean).length / 0.75);

const trimmed = (value: string | undefined) => value?.trim() || undefined;

/**
 * A deterministic reply: the same model and messages always give the same text. It answers in
 * the shape the agent worker's prompts ask for (a user prompt with a "Hook:" line asks for a
 * body, any other for a hook), reading their labelled lines, so posts made through llm-sim look
 * like posts. Any other prompt still gets a deterministic sentence.
 */
export function simulatedCompletion(model: string, messages: SimMessage[]): SimCompletion {
  const digest = createHash('sha256')
    .update(JSON.stringify([model, messages]))
    .digest();
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const fields = readPromptFields(user);
  const pain = trimmed(fields.pain);
  const trend = trimmed(fields.trend);
  const topic = trimmed(fields.topic);
  const firstLine = user.split('\n')[0]?.trim() || 'this';
  const rawSubject = topic ?? pain ?? trend ?? firstLine;
  const subject = rawSubject.length > 80 ? `${rawSubject.slice(0, 77)}...` : rawSubject;

  let content: string;
  if (trimmed(fields.hook) === undefined) {
    content = HOOKS[digest[0] % HOOKS.length](subject);
  } else {
    const points = [
      pain && `The problem: ${pain}`,
      trend && `What changed: ${trend}`,
      `What worked for us on ${subject}: measure first, change one thing, measure again.`,
      CLOSERS[digest[1] % CLOSERS.length],
    ].filter((p): p is string => Boolean(p));
    content =
      trimmed(fields.format) === 'thread'
        ? points.map((p, i) => `${i + 1}/${points.length} ${p}`).join('\n\n')
        : points.join('\n\n');
  }
  return {
    id: `chatcmpl-sim-${digest.toString('hex').slice(0, 24)}`,
    content,
    promptTokens: tokens(messages.map((m) => m.content).join(' ')),
    completionTokens: tokens(content),
  };
}
