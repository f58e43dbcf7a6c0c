import type { TaskInput } from '@app/db';
import type { ChatMessage } from '../llm/llm-client';

export interface PromptPersona {
  name: string;
  systemPrompt: string;
}

export interface PromptLimits {
  hookMaxChars: number;
  bodyMaxChars: number;
}

/** The labelled lines of a user prompt; the builtin model reads them back (readPromptFields). */
export interface PromptFields {
  persona?: string;
  format?: string;
  hook?: string;
  pain?: string;
  trend?: string;
  topic?: string;
  extras?: string;
}

const LABELS: Record<keyof PromptFields, string> = {
  persona: 'Persona',
  format: 'Format',
  hook: 'Hook',
  pain: 'Pain',
  trend: 'Trend',
  topic: 'Topic',
  extras: 'Extras',
};

/** One line per field: user text is flattened so a newline in the input cannot forge a label. */
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

function fieldLines(fields: PromptFields): string[] {
  return (Object.keys(LABELS) as (keyof PromptFields)[])
    .filter((key) => fields[key] !== undefined && fields[key] !== '')
    .map((key) => `${LABELS[key]}: ${oneLine(fields[key] as string)}`);
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

/** Reads the labelled lines of a prompt built above (the builtin model's way of "understanding" it). */
export function readPromptFields(text: string): PromptFields {
  const fields: PromptFields = {};
  for (const line of text.split('\n')) {
    for (const [key, label] of Object.entries(LABELS) as [keyof PromptFields, string][]) {
      if (line.startsWith(`${label}: `)) fields[key] = line.slice(label.length + 2);
    }
  }
  return fields;
}
