import { compare, renderBench, type BenchResult, type HttpMeasurement } from './bench';

const http = (label: string, rps: number): HttpMeasurement => ({
  label,
  rps,
  requests: rps * 10,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  latencyMs: { avg: 5, p50: 4, p90: 8, p99: 20, max: 40 },
  loadAverage: 1.5,
});

describe('bench results', () => {
  it('computes the ratio of the real service to its baseline against the issue targets', () => {
    expect(compare('ingest', 'a', http('base', 2700), http('real', 2160))).toMatchObject({
      ratio: 0.8,
      target: 0.8,
      ok: true,
    });
    expect(compare('health', 'c', http('base', 20000), http('real', 9000))).toMatchObject({
      ratio: 0.45,
      target: 0.5,
      ok: false,
    });
    const drain = compare(
      'drain',
      'b',
      { label: 'base', jobsPerSecond: 1250, jobs: 5000, succeeded: 5000, seconds: 4, loadAverage: 1 },
      { label: 'real', jobsPerSecond: 800, jobs: 5000, succeeded: 5000, seconds: 6.25, loadAverage: 1 },
    );
    expect(drain).toMatchObject({ ratio: 0.64, target: 0.6, ok: true });
    expect(compare('ingest', 'a', http('base', 0), http('real', 10)).ratio).toBe(0);
  });

  it('writes the machine, the command and every figure into the Markdown', () => {
    const result: BenchResult = {
      schema: 'agent-platform/bench@1',
      startedAt: '2026-01-01T00:00:00Z',
      command: 'npm run bench',
      code: { commit: '0123456789abcdef', dirty: false },
      machine: {
        hostname: 'h',
        cpuModel: 'Test CPU',
        cores: 2,
        memoryGb: 24,
        os: 'Linux',
        node: 'v20.19.0',
        postgres: '16.1',
        redis: '7.2.4',
        loadAverage: [1, 1, 1],
      },
      settings: { connections: 150 },
      comparisons: [
        compare(
          'ingest',
          '(a) POST /v1/tasks, 150 connections',
          http('bare', 2700),
          http('orchestrator', 2000),
        ),
      ],
      notes: ['a note'],
    };
    const md = renderBench(result);
    expect(md).toContain('`npm run bench`');
    expect(md).toContain('Test CPU, 2 cores, 24 GB RAM');
    expect(md).toContain('Postgres 16.1; Redis 7.2.4');
    expect(md).toContain(
      '| (a) POST /v1/tasks, 150 connections | 2,700 req/s | 2,000 req/s | 0.74 | >= 0.8 | not met |',
    );
    expect(md).toContain('| orchestrator | 2,000 req/s | 20,000 | 4 / 8 / 20 / 40 ms | 0 | 0 | 1.5 |');
    expect(md).toContain('- a note');
  });
});
