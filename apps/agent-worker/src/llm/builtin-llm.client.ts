import { createHash } from 'node:crypto';
import { readPromptFields } from '@app/platform';
import type { ChatCompletion, ChatRequest, LlmClient } from './llm-client';
import { estimateTokens } from './token-count';

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

/**
 * The default provider: a deterministic, offline "model". It reads the labelled lines of the
 * worker's own prompts (prompts.ts), so the same persona and input always give the same post,
 * and the platform runs end to end with no network and no model. A prompt with a "Hook:" line
 * asks for a body; any other asks for a hook.
 */
export class BuiltinLlmClient implements LlmClient {
  readonly provider = 'builtin';
  readonly endpoint = `builtin:${BUILTIN_MODEL}`;

  async complete(request: ChatRequest): Promise<ChatCompletion> {
    const user = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const fields = readPromptFields(user);
    const seed = createHash('sha256')
      .update(JSON.stringify([fields.persona, fields.format, fields.pain, fields.trend, fields.topic]))
      .digest();

    let text: string;
    if (fields.hook === undefined) {
      const subject = (fields.topic ?? fields.pain ?? fields.trend ?? 'this').trim();
      text = HOOKS[seed[0] % HOOKS.length](subject.length > 80 ? `${subject.slice(0, 77)}...` : subject);
    } else {
      const points = [
        fields.pain && `The pain: ${fields.pain}`,
        fields.trend && `What is changing: ${fields.trend}`,
        fields.topic && `Why ${fields.topic} matters now: small teams feel every slow loop.`,
        `${fields.persona ?? 'My'}'s take: fix the loop you run most often, not the one that is most fun to fix.`,
        CLOSERS[seed[1] % CLOSERS.length],
      ].filter((p): p is string => Boolean(p));
      text =
        fields.format === 'thread'
          ? points.map((p, i) => `${i + 1}/${points.length} ${p}`).join('\n\n')
          : points.join('\n\n');
    }
    return {
      text,
      model: BUILTIN_MODEL,
      promptTokens: estimateTokens(request.messages.map((m) => m.content).join(' ')),
      completionTokens: estimateTokens(text),
    };
  }
}
