/**
 * The labelled lines of the worker's user prompts ("Topic: ..."). The builtin model and llm-sim
 * read them back to answer in the shape the prompt asks for, so the format lives here, below all three.
 */
export interface PromptFields {
  persona?: string;
  format?: string;
  hook?: string;
  pain?: string;
  trend?: string;
  topic?: string;
  extras?: string;
}

export const PROMPT_LABELS: Readonly<Record<keyof PromptFields, string>> = {
  persona: 'Persona',
  format: 'Format',
  hook: 'Hook',
  pain: 'Pain',
  trend: 'Trend',
  topic: 'Topic',
  extras: 'Extras',
};

/** Reads the labelled lines of a prompt (one `Label: value` per line). */
export function readPromptFields(text: string): PromptFields {
  const fields: PromptFields = {};
  for (const line of text.split('\n')) {
    for (const [key, label] of Object.entries(PROMPT_LABELS) as [keyof PromptFields, string][]) {
      if (line.startsWith(`${label}: `)) fields[key] = line.slice(label.length + 2);
    }
  }
  return fields;
}
