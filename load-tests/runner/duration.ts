/**
 * Durations in scenario files read like k6's: "500ms", "10s", "2m", "1h30m", or a plain number of seconds.
 * The same grammar is implemented in load-tests/k6/lib/scenario.js so both runners read one file alike.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;

export type DurationInput = string | number;

export function parseDuration(input: DurationInput, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0)
      throw new Error(`${what}: ${input} is not a non-negative number of seconds`);
    return Math.round(input * 1000);
  }
  let rest = input.trim();
  if (rest === '') throw new Error(`${what}: empty duration`);
  if (/^\d+(\.\d+)?$/.test(rest)) return Math.round(Number(rest) * 1000);
  let total = 0;
  while (rest.length > 0) {
    const match = DURATION.exec(rest);
    if (!match) throw new Error(`${what}: "${input}" is not a duration like 500ms, 10s, 2m or 1h30m`);
    total += Number(match[1]) * UNIT_MS[match[2]];
    rest = rest.slice(match[0].length);
  }
  return Math.round(total);
}

/** 65000 -> "1m5s", 1500 -> "1.5s": short, for tables and stage labels. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalS = ms / 1000;
  if (totalS < 60) return `${Number.isInteger(totalS) ? totalS : totalS.toFixed(1)}s`;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = Math.round(totalS % 60);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}
