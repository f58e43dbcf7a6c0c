import {
  buildRequest,
  expand,
  formatDuration,
  maxUsers,
  meanSuccessThink,
  outcomeOf,
  parseDuration,
  pickRequest,
  stageIndexAt,
  stageWindows,
  templateVars,
  thinkSeconds,
  totalMs,
  userSeconds,
  usersAt,
  usesTaskId,
} from './scenario';

const verifyProduction = stageWindows([
  { name: 'a', duration: '10s', target: 10 },
  { name: 'b', duration: '20s', target: 50 },
  { name: 'c', duration: '20s', target: 100 },
  { name: 'd', duration: '20s', target: 150 },
  { name: 'e', duration: '10s', target: 10 },
]);

describe('the shared scenario interpreter', () => {
  it('reads k6-style durations and plain seconds, and names the field it refuses', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(2)).toBe(2000);
    expect(parseDuration('3')).toBe(3000);
    expect(() => parseDuration('10 sec', 'stages.0.duration')).toThrow(
      'stages.0.duration: "10 sec" is not a duration',
    );
    expect(formatDuration(65_000)).toBe('1m5s');
    expect(formatDuration(1500)).toBe('1.5s');
  });

  it('lays stages end to end with ramping-vus semantics, and names unnamed ones', () => {
    expect(verifyProduction.map((w) => [w.from, w.target, w.startMs, w.endMs])).toEqual([
      [0, 10, 0, 10_000],
      [10, 50, 10_000, 30_000],
      [50, 100, 30_000, 50_000],
      [100, 150, 50_000, 70_000],
      [150, 10, 70_000, 80_000],
    ]);
    expect(totalMs(verifyProduction)).toBe(80_000);
    expect(maxUsers(verifyProduction)).toBe(150);
    expect(stageWindows([{ duration: '2s', target: 2 }])[0].name).toBe('1: 0→2 users, 2s');
    const soak = [{ duration: '30m', target: 60, durationVar: 'SOAK_DURATION' }];
    expect(stageWindows(soak, { SOAK_DURATION: '2h' })[0].durationMs).toBe(7_200_000);
    expect(() => stageWindows(soak, { SOAK_DURATION: 'forever' })).toThrow('(SOAK_DURATION)');
  });

  it('ramps users linearly, holds step stages, and is 0 outside the run', () => {
    expect(usersAt(verifyProduction, 0)).toBe(0);
    expect(usersAt(verifyProduction, 5_000)).toBe(5);
    expect(usersAt(verifyProduction, 20_000)).toBe(30);
    expect(usersAt(verifyProduction, 75_000)).toBe(80);
    expect(usersAt(verifyProduction, 80_000)).toBe(0);
    expect(stageIndexAt(verifyProduction, 9_999)).toBe(0);
    expect(stageIndexAt(verifyProduction, 10_000)).toBe(1);
    expect(stageIndexAt(verifyProduction, 999_999)).toBe(4);
    const capacity = stageWindows([
      { duration: '20s', target: 50, ramp: 'step' },
      { duration: '20s', target: 150, ramp: 'step' },
    ]);
    expect(usersAt(capacity, 0)).toBe(50);
    expect(usersAt(capacity, 20_000)).toBe(150);
    expect(userSeconds(capacity[1])).toBe(3000);
    expect(userSeconds(verifyProduction[1])).toBe(600); // (10 + 50) / 2 * 20 s
  });

  it('picks in proportion to the weights and never a zero weight', () => {
    const items = [
      { name: 'create', weight: 3 },
      { name: 'get', weight: 1 },
      { name: 'never', weight: 0 },
    ];
    expect([0, 0.25, 0.74, 0.75, 0.99].map((x) => pickRequest(items, () => x).name)).toEqual([
      'create',
      'create',
      'create',
      'get',
      'get',
    ]);
    expect(() => pickRequest([{ weight: 0 }], Math.random)).toThrow('the request mix is empty');
  });

  it('expands templates into a request, and refuses a variable without a value', () => {
    const request = {
      name: 'get_task',
      weight: 1,
      method: 'POST',
      path: '/v1/tasks/{{taskId}}?u={{ vu }}',
      headers: { 'Idempotency-Key': '{{runId}}-{{uuid}}' },
      body: { persona_id: '{{persona}}' },
    };
    const built = buildRequest(
      request,
      { taskId: 'abc', vu: 3, runId: 'r', uuid: () => 'u1', persona: 'p' },
      'k',
    );
    expect(built).toEqual({
      method: 'POST',
      path: '/v1/tasks/abc?u=3',
      headers: { 'Idempotency-Key': 'r-u1', 'content-type': 'application/json', 'x-api-key': 'k' },
      body: '{"persona_id":"p"}',
    });
    expect(usesTaskId(request)).toBe(true);
    expect(() => expand('/v1/tasks/{{taskId}}', {})).toThrow('{{taskId}}');
    expect(templateVars('{{persona}} and {{iter}}')).toEqual(['persona', 'iter']);
  });

  it("classifies outcomes and follows the seed's think times: 0.1 s after a success, 2 s after a 429, 0.5 s otherwise", () => {
    const create = { name: 'c', weight: 1, method: 'POST', path: '/', expect: [202] };
    expect([202, 200, 429, 503, 500, 0].map((s) => outcomeOf(create, s))).toEqual([
      'success',
      'error',
      'rate_limited',
      'shed',
      'error',
      'error',
    ]);
    expect(outcomeOf({ ...create, expect: undefined }, 204)).toBe('success');
    const seed = { success: 0.1, '429': 2, other: 0.5 };
    expect(thinkSeconds(seed, true, 202, Math.random)).toBe(0.1);
    expect(thinkSeconds(seed, false, 429, Math.random)).toBe(2);
    expect(thinkSeconds(seed, false, 503, Math.random)).toBe(0.5);
    expect(thinkSeconds(seed, true, 429, Math.random)).toBe(0.1);
    const range = { success: { min: 0.2, max: 0.8 }, other: 0 };
    expect(thinkSeconds(range, true, 200, () => 0.5)).toBeCloseTo(0.5);
    expect(meanSuccessThink(range)).toBeCloseTo(0.5);
  });
});
