import {
  describeStage,
  maxTarget,
  stageIndexAt,
  stageWindows,
  targetAt,
  totalDurationMs,
  userSeconds,
  usersAt,
} from './stages';

const verifyProduction = stageWindows([
  { name: 'a', durationMs: 10_000, target: 10, ramp: 'linear' },
  { name: 'b', durationMs: 20_000, target: 50, ramp: 'linear' },
  { name: 'c', durationMs: 20_000, target: 100, ramp: 'linear' },
  { name: 'd', durationMs: 20_000, target: 150, ramp: 'linear' },
  { name: 'e', durationMs: 10_000, target: 10, ramp: 'linear' },
]);

describe('stage math', () => {
  it('lays stages end to end, each starting from the previous target', () => {
    expect(verifyProduction.map((w) => [w.from, w.target, w.startMs, w.endMs])).toEqual([
      [0, 10, 0, 10_000],
      [10, 50, 10_000, 30_000],
      [50, 100, 30_000, 50_000],
      [100, 150, 50_000, 70_000],
      [150, 10, 70_000, 80_000],
    ]);
    expect(totalDurationMs(verifyProduction)).toBe(80_000);
    expect(maxTarget(verifyProduction)).toBe(150);
  });

  it('ramps linearly inside a stage, up and down', () => {
    expect(targetAt(verifyProduction, 0)).toBe(0);
    expect(targetAt(verifyProduction, 5_000)).toBe(5);
    expect(targetAt(verifyProduction, 20_000)).toBe(30);
    expect(targetAt(verifyProduction, 75_000)).toBe(80);
    expect(usersAt(verifyProduction, 1_449)).toBe(1);
    expect(usersAt(verifyProduction, 1_551)).toBe(2);
  });

  it('is 0 outside the run and maps late times to the last stage', () => {
    expect(targetAt(verifyProduction, -1)).toBe(0);
    expect(targetAt(verifyProduction, 80_000)).toBe(0);
    expect(stageIndexAt(verifyProduction, 9_999)).toBe(0);
    expect(stageIndexAt(verifyProduction, 10_000)).toBe(1);
    expect(stageIndexAt(verifyProduction, 999_999)).toBe(4);
  });

  it('holds step stages at their target from their first instant (closed-loop capacity)', () => {
    const capacity = stageWindows([
      { name: '50', durationMs: 20_000, target: 50, ramp: 'step' },
      { name: '150', durationMs: 20_000, target: 150, ramp: 'step' },
    ]);
    expect(targetAt(capacity, 0)).toBe(50);
    expect(targetAt(capacity, 19_999)).toBe(50);
    expect(targetAt(capacity, 20_000)).toBe(150);
    expect(userSeconds(capacity[1])).toBe(3000);
  });

  it('computes the user-seconds under a ramp as a trapezoid', () => {
    expect(userSeconds(verifyProduction[1])).toBe(600); // (10 + 50) / 2 * 20 s
    expect(verifyProduction.reduce((a, w) => a + userSeconds(w), 0)).toBe(50 + 600 + 1500 + 2500 + 800);
  });

  it('labels stages for reports', () => {
    expect(describeStage(verifyProduction[1], (ms) => `${ms / 1000}s`)).toBe('10→50 users, 20s');
    expect(describeStage({ ...verifyProduction[1], ramp: 'step' }, (ms) => `${ms / 1000}s`)).toBe(
      '50 users, 20s',
    );
  });
});
