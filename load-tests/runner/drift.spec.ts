import { computeDrift } from './drift';
import type { TimelinePoint } from './engine';

const point = (t: number, p95: number): TimelinePoint => ({
  t,
  stage: 1,
  users: 10,
  requests: 10,
  success: 10,
  rateLimited: 0,
  shed: 0,
  errors: 0,
  rps: 10,
  latencyMs: { count: 10, min: 1, avg: p95 / 2, p50: p95 / 2, p90: p95, p95, p99: p95, max: p95 },
  sentBytes: 0,
  receivedBytes: 0,
});

describe('drift', () => {
  const stages = [
    { name: 'ramp', startS: 0, endS: 10 },
    { name: 'hold', startS: 10, endS: 50 },
  ];

  it('compares the first and last quarter of the longest stage', () => {
    const timeline = Array.from({ length: 50 }, (_, i) => point(i + 1, i < 30 ? 4 : 8));
    const rss = Array.from({ length: 50 }, (_, i) => ({ t: i + 1, rssMb: 100 + i, cpuPct: 10 }));
    const d = computeDrift(stages, timeline, [
      { name: 'orchestrator', pid: 1, peakRssMb: 149, avgCpuPct: 10, peakCpuPct: 10, samples: rss },
    ]);
    expect(d).toMatchObject({ stage: 'hold', p95StartMs: 4, p95EndMs: 8, p95Ratio: 2 });
    expect(d?.rssGrowthMb.orchestrator).toBe(30);
  });

  it('says nothing about a stage too short to tell', () => {
    expect(computeDrift(stages, [point(11, 4), point(12, 4)], [])).toBeNull();
  });
});
