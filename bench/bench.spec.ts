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
  it('computes the ratio of the real service to its baseline against the targets', () => {
    expect(compare('ingest', 'a', http('base', 2700), http('real', 2160), 0.8)).toMatchObject({
      ratio: 0.8,
      target: 0.8,
      ok: true,
    });
    expect(compare('health', 'c', http('base', 20000), http('real', 9999), 0.5)).toMatchObject({
      ratio: 0.5,
      ok: false,
    });
    const drain = compare(
      'drain',
      'b',
      { label: 'base', jobsPerSecond: 1250, jobs: 5000, succeeded: 5000, seconds: 4, loadAverage: 1 },
      { label: 'real', jobsPerSecond: 800, jobs: 5000, succeeded: 5000, seconds: 6.25, loadAverage: 1 },
      0.6,
    );
    expect(drain).toMatchObject({ ratio: 0.64, target: 0.6, ok: true });
    expect(compare('ingest', 'a', http('base', 0), http('real', 10), 0.8).ratio).toBe(0);
    // Protection mode: a ratio with no target is information, neither met nor missed.
    expect(compare('protection', 'p', http('bare', 1000), http('protected', 950))).toMatchObject({
      ratio: 0.95,
      target: null,
      ok: null,
    });
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
          0.8,
        ),
        compare('protection', 'protection, against none', http('bare', 2000), http('protected', 1900)),
      ],
      notes: ['a note'],
    };
    const md = renderBench(result);
    expect(md).toContain('`npm run bench`');
    expect(md).toContain('Test CPU, 2 cores, 24 GB RAM; Node v20.19.0; Postgres 16.1; Redis 7.2.4');
    expect(md).toContain(
      '| (a) POST /v1/tasks, 150 connections | 2,700 req/s | 2,000 req/s | 0.74 | >= 0.8 | not met |',
    );
    expect(md).toContain('| protection, against none | 2,000 req/s | 1,900 req/s | 0.95 | - | information |');
    expect(md).toContain('| orchestrator | 2,000 req/s | 20,000 | 4 / 8 / 20 / 40 ms | 0 | 0 | 1.5 |');
    expect(md).toContain('- a note');
  });
});
