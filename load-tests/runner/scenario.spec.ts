import { readFileSync } from 'node:fs';
import { formatDuration, parseDuration } from './duration';
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

describe('durations', () => {
  it('reads k6-style durations and plain seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(2)).toBe(2000);
    expect(parseDuration('3')).toBe(3000);
    expect(() => parseDuration('10 sec')).toThrow('not a duration');
    expect(formatDuration(65_000)).toBe('1m5s');
    expect(formatDuration(1500)).toBe('1.5s');
  });
});

describe('scenario files', () => {
  it('ships the scenarios the issue asks for, and every one is valid', () => {
    const names = listScenarios();
    expect(names).toEqual(
      expect.arrayContaining(['smoke', 'quick', 'verify-production', 'production', 'capacity', 'soak']),
    );
    for (const name of names) expect(loadScenario(name).name).toBe(name);
  });

  it("encodes the seed's headline run exactly", () => {
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
  });

  it('runs capacity as a closed loop at fixed 50/150/300 connections', () => {
    const s = loadScenario('capacity');
    expect(s.closedLoop).toBe(true);
    expect(s.stages.map((w) => [w.ramp, w.target])).toEqual([
      ['step', 50],
      ['step', 150],
      ['step', 300],
    ]);
  });

  it('lets SOAK_DURATION set the length of the soak hold', () => {
    const raw = JSON.parse(readFileSync(scenarioPath('soak'), 'utf8'));
    const file = parseScenarioFile(raw);
    expect(resolveScenario(file, {}).stages[1].durationMs).toBe(30 * 60_000);
    expect(resolveScenario(file, { SOAK_DURATION: '2h' }).stages[1].durationMs).toBe(7_200_000);
    expect(() => resolveScenario(file, { SOAK_DURATION: 'forever' })).toThrow('SOAK_DURATION');
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
      ],
    };
    expect(() => parseScenarioFile(bad, 'bad.json')).toThrow(/bad\.json is not a valid scenario/);
    let message = '';
    try {
      parseScenarioFile(bad, 'bad.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('thinkTime key "teapot"');
    expect(message).toContain('unknown template variable {{persna}}');
    expect(message).toContain('unknown metric p95');
    expect(message).toContain('no request named nope');
    expect(message).toContain('no request with weight > 0 creates tasks');
  });

  it('applies defaults and names unnamed stages', () => {
    const s = resolveScenario(parseScenarioFile(minimal));
    expect(s.followTasks).toBe(true);
    expect(s.drainTimeoutMs).toBe(60_000);
    expect(s.closedLoop).toBe(false);
    expect(s.stages[0].name).toBe('1: 0→2 users, 2s');
  });
});
