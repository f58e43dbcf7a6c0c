import { randomUUID } from 'node:crypto';

/**
 * The request mix: weighted choice among a scenario's requests, and the tiny template language their
 * paths, headers and bodies use: {{persona}}, {{taskId}}, {{runId}}, {{vu}}, {{iter}}, {{seq}}, {{uuid}}.
 */
export const TEMPLATE_VARS = ['persona', 'taskId', 'runId', 'vu', 'iter', 'seq', 'uuid'] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];
export type TemplateValues = Partial<Record<TemplateVar, string | number>>;

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+)\s*\}\}/g;

/** Names used in a template, so a scenario with a typo fails when it is loaded, not mid-run. */
export function templateVars(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

export function expandTemplate(template: string, values: TemplateValues): string {
  if (!template.includes('{{')) return template;
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (name === 'uuid') return randomUUID();
    const value = values[name as TemplateVar];
    if (value === undefined) throw new Error(`template variable {{${name}}} has no value here`);
    return String(value);
  });
}

/** Picks items in proportion to their weights. `random` is injectable so tests are deterministic. */
export class WeightedPicker<T extends { weight: number }> {
  private items: T[] = [];
  private cumulative: number[] = [];

  constructor(items: readonly T[]) {
    this.reset(items);
  }

  get size(): number {
    return this.items.length;
  }

  pick(random: () => number = Math.random): T {
    if (this.items.length === 0) throw new Error('the request mix is empty');
    const total = this.cumulative[this.cumulative.length - 1];
    const r = random() * total;
    // Few items (a handful of request kinds): a linear scan beats a binary search here.
    for (let i = 0; i < this.cumulative.length; i++) if (r < this.cumulative[i]) return this.items[i];
    return this.items[this.items.length - 1];
  }

  /** Drops items (e.g. an optional endpoint the target does not have) and renormalizes the weights. */
  remove(predicate: (item: T) => boolean): void {
    this.reset(this.items.filter((item) => !predicate(item)));
  }

  private reset(items: readonly T[]): void {
    this.items = items.filter((i) => i.weight > 0);
    let sum = 0;
    this.cumulative = this.items.map((i) => (sum += i.weight));
  }
}
