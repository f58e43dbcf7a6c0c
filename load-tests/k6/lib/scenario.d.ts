// Types for the k6 scenario library (plain JS so k6 can run it), for the TypeScript unit tests.
export interface K6Scenario {
  name: string;
  description: string;
  model?: string;
  stages: {
    name?: string;
    duration: string | number;
    target: number;
    ramp?: 'linear' | 'step';
    durationVar?: string;
  }[];
  thinkTime: Record<string, number | { min: number; max: number }>;
  requests: {
    name: string;
    weight: number;
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: unknown;
    expect?: number[];
    createsTask?: boolean;
    longPoll?: boolean;
    optional?: boolean;
  }[];
  thresholds?: { metric: string; request?: string; stage?: string; max?: number; min?: number }[];
  gracefulStop?: string | number;
  requestTimeout?: string | number;
}
export interface K6Window {
  index: number;
  name: string;
  from: number;
  target: number;
  ramp: string;
  durationMs: number;
  startMs: number;
  endMs: number;
}
export interface K6Stage {
  duration: string;
  target: number;
}
export interface K6Options {
  scenarios: Record<
    string,
    { executor: string; startVUs: number; stages: K6Stage[]; gracefulRampDown: string; gracefulStop: string }
  >;
  thresholds: Record<string, string[]>;
  summaryTrendStats: string[];
  discardResponseBodies: boolean;
}
export function parseDuration(input: string | number): number;
export function stageWindows(scenario: K6Scenario, env?: Record<string, string | undefined>): K6Window[];
export function stageAt(windows: K6Window[], elapsedMs: number): K6Window;
export function k6Stages(windows: K6Window[]): K6Stage[];
export function k6Thresholds(scenario: K6Scenario): {
  thresholds: Record<string, string[]>;
  skipped: string[];
};
export function k6Options(scenario: K6Scenario, env?: Record<string, string | undefined>): K6Options;
export function thinkSeconds(
  rules: K6Scenario['thinkTime'],
  ok: boolean,
  status: number,
  random: () => number,
): number;
export function pickRequest(
  requests: K6Scenario['requests'],
  random: () => number,
): K6Scenario['requests'][number];
export function usesTaskId(request: K6Scenario['requests'][number]): boolean;
export function expand(template: string, values: Record<string, unknown>): string;
export function summaryMarkdown(scenario: K6Scenario, data: { metrics?: Record<string, unknown> }): string;
