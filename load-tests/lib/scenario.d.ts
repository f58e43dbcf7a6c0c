// Types of the shared scenario interpreter (plain JS so k6 can load it).
export interface StageSpec {
  name?: string;
  duration: string | number;
  target: number;
  ramp?: 'linear' | 'step';
  durationVar?: string;
}
export interface StageWindow {
  index: number;
  name: string;
  from: number;
  target: number;
  ramp: 'linear' | 'step';
  durationMs: number;
  startMs: number;
  endMs: number;
}
export interface RequestLike {
  name: string;
  weight: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  expect?: number[];
}
export type ThinkValue = number | { min: number; max: number };
export type ThinkRules = { success: ThinkValue; other: ThinkValue } & Record<string, ThinkValue>;
export type Outcome = 'success' | 'rate_limited' | 'shed' | 'error';
export type TemplateValues = Record<string, string | number | (() => string) | undefined>;

export const TEMPLATE_VARS: readonly string[];
export function parseDuration(input: string | number, what?: string): number;
export function formatDuration(ms: number): string;
export function stageWindows(
  stages: readonly StageSpec[],
  vars?: Record<string, string | undefined>,
): StageWindow[];
export function totalMs(windows: readonly StageWindow[]): number;
export function stageIndexAt(windows: readonly StageWindow[], tMs: number): number;
export function usersAt(windows: readonly StageWindow[], tMs: number): number;
export function userSeconds(w: StageWindow): number;
export function maxUsers(windows: readonly StageWindow[]): number;
export function templateVars(text: string): string[];
export function expand(template: string, values: TemplateValues): string;
export function usesTaskId(r: RequestLike): boolean;
export function pickRequest<T extends { weight: number }>(requests: readonly T[], random: () => number): T;
export function buildRequest(
  r: RequestLike,
  values: TemplateValues,
  apiKey?: string,
): { method: string; path: string; headers: Record<string, string>; body: string | null };
export function isSuccess(r: RequestLike, status: number): boolean;
export function outcomeOf(r: RequestLike, status: number): Outcome;
export function thinkSeconds(rules: ThinkRules, ok: boolean, status: number, random: () => number): number;
export function meanSuccessThink(rules: ThinkRules): number;
