import { compare, renderBench, type BenchResult, type Measurement } from './measure';
import { boundTasksPerSecond } from './modes/llm-latency';

const http = (label: string, rate: number): Measurement => ({
  label,
  rate,
  unit: 'req/s',
  volume: `${rate * 10} requests`,
  latency: '4 / 8 / 20 / 40 ms',
  failures: 0,
  loadAverage: 1.5,
});
const jobs = (label: string, rate: number): Measurement => ({
  ...http(label, rate),
  unit: 'jobs/s',
  latency: '-',
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
    expect(compare('drain', 'b', jobs('base', 1250), jobs('real', 800), 0.6)).toMatchObject({
      ratio: 0.64,
      ok: true,
    });
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
      figures: [{ name: 'worker peak RSS', value: '263.3 MB', target: '< 300 MB', ok: true }],
      notes: ['a note'],
    };
    const md = renderBench(result);
    expect(md).toContain('`npm run bench`');
    expect(md).toContain('Test CPU, 2 cores, 24 GB RAM; Node v20.19.0; Postgres 16.1; Redis 7.2.4');
    expect(md).toContain(
      '| (a) POST /v1/tasks, 150 connections | 2,700 req/s | 2,000 req/s | 0.74 | >= 0.8 | not met |',
    );
    expect(md).toContain('| protection, against none | 2,000 req/s | 1,900 req/s | 0.95 | - | information |');
    expect(md).toContain('| orchestrator | 2,000 req/s | 20000 requests | 4 / 8 / 20 / 40 ms | 0 | 1.5 |');
    expect(md).toContain('| worker peak RSS | 263.3 MB | < 300 MB | met |');
    expect(md).toContain('- a note');
  });

  it('bounds a worker at its calls in flight over the model latency, two calls a task', () => {
    expect(boundTasksPerSecond(1000, 1000)).toBe(500);
    expect(boundTasksPerSecond(1000, 400)).toBe(1250);
    expect(boundTasksPerSecond(1000, 0)).toBe(Infinity);
  });
});
