/** Number formatting shared by the Markdown and HTML views. */
export const pct = (rate: number): string => `${(rate * 100).toFixed(2)}%`;

export const ms = (v: number): string => `${v.toFixed(2)} ms`;

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function countAndRate(n: number, rate: number): string {
  return `${int(n)} (${pct(rate)})`;
}

/** Escapes a value for a Markdown table cell. */
export const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ('l' | 'r')[],
): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}
