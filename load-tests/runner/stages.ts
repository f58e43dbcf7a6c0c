/**
 * Stage math, k6's "ramping-vus" semantics: a linear stage moves the number of virtual users from the
 * previous stage's target to its own over its duration; a step stage jumps to its target at its start and
 * holds it (what a closed-loop capacity run with fixed connection counts wants).
 */
export type Ramp = 'linear' | 'step';

export interface Stage {
  name: string;
  durationMs: number;
  target: number;
  ramp: Ramp;
}

export interface StageWindow extends Stage {
  index: number;
  /** Users at the start of the stage (the previous stage's target, 0 for the first). */
  from: number;
  startMs: number;
  endMs: number;
}

export function stageWindows(stages: readonly Stage[]): StageWindow[] {
  let startMs = 0;
  let from = 0;
  return stages.map((stage, index) => {
    const window: StageWindow = { ...stage, index, from, startMs, endMs: startMs + stage.durationMs };
    startMs = window.endMs;
    from = stage.target;
    return window;
  });
}

export function totalDurationMs(windows: readonly StageWindow[]): number {
  return windows.length ? windows[windows.length - 1].endMs : 0;
}

export function maxTarget(windows: readonly StageWindow[]): number {
  return windows.reduce((max, w) => Math.max(max, w.target, w.from), 0);
}

/** Index of the stage running at tMs; times past the end belong to the last stage. */
export function stageIndexAt(windows: readonly StageWindow[], tMs: number): number {
  for (const w of windows) if (tMs < w.endMs) return w.index;
  return Math.max(0, windows.length - 1);
}

/** Target number of users (fractional) at tMs after the start; 0 once every stage is over. */
export function targetAt(windows: readonly StageWindow[], tMs: number): number {
  if (tMs < 0 || windows.length === 0 || tMs >= totalDurationMs(windows)) return 0;
  const w = windows[stageIndexAt(windows, tMs)];
  if (w.ramp === 'step' || w.durationMs === 0) return w.target;
  const fraction = (tMs - w.startMs) / w.durationMs;
  return w.from + (w.target - w.from) * fraction;
}

/** Users to run at tMs: the target rounded to the nearest whole user. */
export function usersAt(windows: readonly StageWindow[], tMs: number): number {
  return Math.round(targetAt(windows, tMs));
}

/** Area under the users curve of one stage (user-seconds): what think time turns into a request budget. */
export function userSeconds(w: StageWindow): number {
  const seconds = w.durationMs / 1000;
  return w.ramp === 'step' ? w.target * seconds : ((w.from + w.target) / 2) * seconds;
}

/** "0→10 users, 10s" style label used when a stage has no name. */
export function describeStage(w: StageWindow, format: (ms: number) => string): string {
  const users =
    w.ramp === 'step' || w.from === w.target ? `${w.target} users` : `${w.from}→${w.target} users`;
  return `${users}, ${format(w.durationMs)}`;
}
