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

function field(text: string, label: string): string | undefined {
  const match = new RegExp(`^${label}: (.*)$`, 'm').exec(text);
  return match?.[1].trim() || undefined;
}

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
  const pain = field(user, 'Pain');
  const trend = field(user, 'Trend');
  const topic = field(user, 'Topic');
  const firstLine = user.split('\n')[0]?.trim() || 'this';
  const rawSubject = topic ?? pain ?? trend ?? firstLine;
  const subject = rawSubject.length > 80 ? `${rawSubject.slice(0, 77)}...` : rawSubject;

  let content: string;
  if (field(user, 'Hook') === undefined) {
    content = HOOKS[digest[0] % HOOKS.length](subject);
  } else {
    const points = [
      pain && `The problem: ${pain}`,
      trend && `What changed: ${trend}`,
      `What worked for us on ${subject}: measure first, change one thing, measure again.`,
      CLOSERS[digest[1] % CLOSERS.length],
    ].filter((p): p is string => Boolean(p));
    content =
      field(user, 'Format') === 'thread'
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
