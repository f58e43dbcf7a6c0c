// Types of the k6 script factory (plain JS so k6 can run it), for the TypeScript unit tests.
import type { StageWindow } from '../../lib/scenario';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- scenario JSON as the k6 script reads it
type Json = Record<string, any>;
export interface K6Options {
  scenarios: Record<string, Json>;
  thresholds: Record<string, string[]>;
  summaryTrendStats: string[];
}
export interface K6Script {
  options: K6Options;
  setup(): { persona: string; created: boolean };
  teardown(data: { persona: string; created: boolean }): void;
  run(data: { persona: string }): void;
  handleSummary(data: unknown): Record<string, string>;
}
export function k6Stages(windows: StageWindow[]): { duration: string; target: number }[];
export function k6Thresholds(scenario: Json): { thresholds: Record<string, string[]>; skipped: string[] };
export function k6Options(scenario: Json, env?: Record<string, string | undefined>): K6Options;
export function summaryMarkdown(scenario: Json, data: { metrics?: Record<string, unknown> }): string;
export function makeScript(scenario: Json): K6Script;
