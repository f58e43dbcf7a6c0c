import type { TaskInput } from '@app/db';
import { PROMPT_LABELS, type PromptFields } from '@app/platform';
import type { ChatMessage } from '../llm/llm-client';

export interface PromptPersona {
  name: string;
  systemPrompt: string;
}

export interface PromptLimits {
  hookMaxChars: number;
  bodyMaxChars: number;
}

/** One line per field: user text is flattened so a newline in the input cannot forge a label. */
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

function fieldLines(fields: PromptFields): string[] {
  return (Object.keys(PROMPT_LABELS) as (keyof PromptFields)[])
    .filter((key) => fields[key] !== undefined && fields[key] !== '')
    .map((key) => `${PROMPT_LABELS[key]}: ${oneLine(fields[key] as string)}`);
}

function inputFields(persona: PromptPersona, taskType: string, input: TaskInput): PromptFields {
  return {
    persona: persona.name,
    format: taskType === 'generate_thread' ? 'thread' : 'post',
    pain: input.pain_statement,
    trend: input.trend_snippet,
    topic: input.topic,
    extras: input.extras
      ? Object.entries(input.extras)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join('; ')
      : undefined,
  };
}

function system(persona: PromptPersona): ChatMessage {
  return {
    role: 'system',
    content: `${persona.systemPrompt.trim()}\nWrite in plain text: no hashtags, no emojis, no markdown.`,
  };
}

/** Step 1: the hook, the one line that makes a reader stop scrolling. */
export function hookMessages(
  persona: PromptPersona,
  taskType: string,
  input: TaskInput,
  limits: PromptLimits,
): ChatMessage[] {
  return [
    system(persona),
    {
      role: 'user',
      content: [
        `Write the opening hook of a social media post: one sentence, at most ${limits.hookMaxChars} characters, no quotes.`,
        ...fieldLines(inputFields(persona, taskType, input)),
      ].join('\n'),
    },
  ];
}

/** Step 2: the body that follows the hook. */
export function bodyMessages(
  persona: PromptPersona,
  taskType: string,
  input: TaskInput,
  hook: string,
  limits: PromptLimits,
): ChatMessage[] {
  const shape =
    taskType === 'generate_thread'
      ? 'Write it as a thread: numbered paragraphs ("1/N ..."), one point each.'
      : 'Use short paragraphs.';
  return [
    system(persona),
    {
      role: 'user',
      content: [
        `Write the body of the post that follows the hook below, at most ${limits.bodyMaxChars} characters. ${shape}`,
        ...fieldLines({ ...inputFields(persona, taskType, input), hook }),
      ].join('\n'),
    },
  ];
}
