import { readFileSync } from 'node:fs';
import { listScenarios, loadScenario, parseScenarioFile, resolveScenario, scenarioPath } from './scenario';

const minimal = {
  name: 'mini',
  description: 'test',
  stages: [{ duration: '2s', target: 2 }],
  thinkTime: { success: 0.1, other: 0.5 },
  requests: [
    {
      name: 'create_task',
      weight: 1,
      method: 'POST',
      path: '/v1/tasks',
      createsTask: true,
      body: { persona_id: '{{persona}}' },
    },
  ],
};

describe('scenario files', () => {
  it('ships the scenarios, and every one is valid', () => {
    expect(listScenarios()).toEqual(
      expect.arrayContaining([
        'smoke',
        'quick',
        'verify-production',
        'production',
        'capacity',
        'soak',
        'chaos-llm',
        'rolling-restart',
      ]),
    );
    for (const name of listScenarios()) expect(loadScenario(name).name).toBe(name);
  });

  it("encodes the seed's headline run, with its latency gates against the same run's baseline", () => {
    const s = loadScenario('verify-production');
    expect(s.stages.map((w) => [w.durationMs / 1000, w.target])).toEqual([
      [10, 10],
      [20, 50],
      [20, 100],
      [20, 150],
      [10, 10],
    ]);
    expect(s.thinkTime).toEqual({ success: 0.1, '429': 2, other: 0.5 });
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/tasks']);
    for (const name of ['verify-production', 'peak-150']) {
      const t = loadScenario(name).thresholds;
      expect(t).toContainEqual(expect.objectContaining({ metric: 'p95_ms', maxRatio: 1 }));
      expect(t).toContainEqual(expect.objectContaining({ metric: 'efficiency', minDelta: -0.01 }));
      // Absolute latency and efficiency stay, as information.
      expect(t.filter((x) => x.max === 15 || x.min === 0.95).every((x) => x.info)).toBe(true);
    }
  });

  it('runs capacity as a closed loop, and the chaos run as a fixed number of tasks', () => {
    expect(loadScenario('capacity').closedLoop).toBe(true);
    expect(loadScenario('capacity').stages.map((w) => [w.ramp, w.target])).toEqual([
      ['step', 50],
      ['step', 150],
      ['step', 300],
    ]);
    expect(loadScenario('chaos-llm').iterations).toBe(1000);
    expect(loadScenario('chaos-llm', { CHAOS_TASKS: '50' }).iterations).toBe(50);
    expect(() => loadScenario('chaos-llm', { CHAOS_TASKS: 'many' })).toThrow('CHAOS_TASKS');
    expect(loadScenario('rolling-restart').file.stack).toMatchObject({
      orchestrators: 2,
      events: [{ action: 'rolling-restart' }],
    });
  });

  it('lets SOAK_DURATION set the length of the soak hold', () => {
    const file = parseScenarioFile(JSON.parse(readFileSync(scenarioPath('soak'), 'utf8')));
    expect(resolveScenario(file, {}).stages[1].durationMs).toBe(30 * 60_000);
    expect(resolveScenario(file, { SOAK_DURATION: '2h' }).stages[1].durationMs).toBe(7_200_000);
  });

  it('names every problem of an invalid scenario', () => {
    const bad = {
      ...minimal,
      thinkTime: { success: 0.1, other: 0.5, teapot: 1 },
      requests: [
        { name: 'get_task', weight: 1, method: 'GET', path: '/v1/tasks/{{taskId}}' },
        { name: 'typo', weight: 1, method: 'GET', path: '/v1/{{persna}}' },
      ],
      thresholds: [
        { metric: 'p95', max: 10 },
        { metric: 'p95_ms', request: 'nope', max: 1 },
        { metric: 'p95_ms' },
        { metric: 'p95_ms', max: 15, maxRatio: 1 },
      ],
    };
    let message = '';
    try {
      parseScenarioFile(bad, 'bad.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^bad\.json is not a valid scenario/);
    for (const problem of [
      'thinkTime key "teapot"',
      'unknown template variable {{persna}}',
      'unknown metric p95',
      'no request named nope',
      'a threshold needs max, min, maxRatio',
      'absolute (max, min) or against the baseline (maxRatio, minRatio, maxDelta, minDelta), not both',
      'no request with weight > 0 creates tasks',
    ])
      expect(message).toContain(problem);
    const badEvent = { ...minimal, stack: { events: [{ at: '1s', action: 'reboot' }] } };
    expect(() => parseScenarioFile(badEvent)).toThrow(/stack\.events\.0\.action: Invalid option/);
  });

  it('applies defaults', () => {
    const s = resolveScenario(parseScenarioFile(minimal));
    expect(s).toMatchObject({
      followTasks: true,
      drainTimeoutMs: 60_000,
      closedLoop: false,
      iterations: undefined,
    });
    expect(s.file.stack).toMatchObject({ orchestrators: 1, workers: 1, events: [], provider: 'llm-sim' });
  });
});
