import { buildReport } from '../runner/report';
import { parseScenarioFile, resolveScenario } from '../runner/scenario';
import { RunStats, classify, latencySummary, newBucket, record } from '../runner/stats';
import type { EngineResult, MachineInfo, Report, Scenario, TaskCheck } from '../runner/types';

/** A two-stage scenario and a synthetic run of it, for report, threshold and rendering tests. */
export function fixtureScenario(thresholds: unknown[] = []): Scenario {
  return resolveScenario(
    parseScenarioFile({
      name: 'fixture',
      description: 'two stages, two requests',
      stages: [
        { name: 'up', duration: '10s', target: 10 },
        { name: 'hold', duration: '10s', target: 10 },
      ],
      thinkTime: { success: 0.1, '429': 2, other: 0.5 },
      requests: [
        {
          name: 'create_task',
          weight: 3,
          method: 'POST',
          path: '/v1/tasks',
          createsTask: true,
          expect: [202],
          body: { persona_id: '{{persona}}' },
        },
        { name: 'long_poll', weight: 1, method: 'GET', path: '/v1/tasks/{{taskId}}?wait=5', longPoll: true },
      ],
      thresholds,
    }),
  );
}

export const machine: MachineInfo = {
  hostname: 'box',
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGb: 24,
  os: 'Linux',
  node: 'v20.19.0',
  postgres: '16.1',
  redis: '7.2.4',
  loadAverage: [0.5, 0.4, 0.3],
};

/**
 * Stage "up": 100 creates at 1..100 ms (one 429, one 503, one 500); stage "hold": 200 creates at `holdUs`
 * and 10 long-polls at 5000 ms.
 */
export function fixtureEngine(scenario: Scenario, holdUs = 5000): EngineResult {
  const [create, poll] = scenario.requests;
  const stats = new RunStats(2, ['create_task', 'long_poll'], new Set(['long_poll']));
  for (let i = 1; i <= 100; i++) {
    const status = i === 50 ? 429 : i === 60 ? 503 : i === 70 ? 500 : 202;
    record(stats.cell(0, 'create_task'), classify(create, status), i * 1000);
  }
  for (let i = 0; i < 200; i++) record(stats.cell(1, 'create_task'), classify(create, 202), holdUs);
  for (let i = 0; i < 10; i++) record(stats.cell(1, 'long_poll'), classify(poll, 200), 5_000_000);
  const interval = newBucket();
  record(interval, classify(create, 202), 4000);
  return {
    startedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 20_000,
    aborted: false,
    stats,
    stages: [
      { maxUsers: 10, userSeconds: 50, sentBytes: 1000, receivedBytes: 4000, seconds: 10 },
      { maxUsers: 10, userSeconds: 100, sentBytes: 2000, receivedBytes: 8000, seconds: 10 },
    ],
    timeline: Array.from({ length: 20 }, (_, i) => ({
      t: i + 1,
      stage: i < 10 ? 0 : 1,
      users: 10,
      requests: 15,
      success: 15,
      rateLimited: 0,
      shed: 0,
      errors: 0,
      rps: 15,
      latencyMs: latencySummary(interval.hist),
      sentBytes: 150,
      receivedBytes: 600,
    })),
    intervalMs: 1000,
    accepted: [{ id: 'a', acceptedAtMs: 5 }],
    duplicateAccepts: 0,
    interrupted: 0,
    loopLagMs: { p50: 0.5, p99: 2, max: 8 },
    notes: [],
  };
}

export const cleanTasks: TaskCheck = {
  method: 'postgres',
  accepted: 297,
  succeeded: 297,
  failed: 0,
  cancelled: 0,
  lost: 0,
  missing: 0,
  unfinished: 0,
  duplicates: 0,
  succeededWithoutPost: 0,
  completionMs: { count: 297, min: 2, avg: 5, p50: 4, p90: 8, p95: 9, p99: 12, max: 20 },
  drainSeconds: 0.5,
};

export function fixtureReport(
  thresholds: unknown[] = [],
  tasks: TaskCheck = cleanTasks,
  holdUs = 5000,
): Report {
  const scenario = fixtureScenario(thresholds);
  return buildReport({
    scenario,
    engine: fixtureEngine(scenario, holdUs),
    tasks,
    processes: [
      {
        name: 'orchestrator',
        pid: 42,
        peakRssMb: 150,
        avgCpuPct: 40,
        peakCpuPct: 90,
        samples: [{ t: 1, rssMb: 150, cpuPct: 40 }],
      },
    ],
    machine,
    run: {
      id: 'r1',
      mode: 'local',
      target: 'http://127.0.0.1:8080',
      command: 'npm run load-test:local -- --scenario fixture',
      code: { commit: 'abcdef1234567890', branch: 'main', dirty: false },
      persona: 'load-r1',
      apiKeys: 1,
      settings: { DB_POOL_MAX: '30' },
    },
    finishedAt: new Date('2026-01-01T00:00:30Z'),
  });
}
