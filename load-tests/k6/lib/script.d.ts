// Types for the k6 script factory (plain JS so k6 can run it), for the TypeScript unit tests.
import type { K6Options, K6Scenario } from './scenario';

export interface K6Script {
  options: K6Options;
  setup(): { persona: string; created: boolean };
  teardown(data: { persona: string; created: boolean }): void;
  run(data: { persona: string }): void;
  handleSummary(data: unknown): Record<string, string>;
}
export function makeScript(scenario: K6Scenario): K6Script;
