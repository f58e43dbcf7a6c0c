import { readFileSync } from 'node:fs';
import pidusage from 'pidusage';
import { compare, log, type BenchMode, type Measurement } from '../measure';

/**
 * --llm-latency-ms L (or --mode llm-latency): one agent worker on its defaults (openai provider) drains
 * --jobs queued tasks against llm-sim answering each call after L ms, set against its bound: a worker that
 * keeps C calls in flight against a model that takes L seconds a call finishes at most C / L calls a second,
 * C / (2 L) tasks a second (two calls a task: hook and body). Also the calls llm-sim saw in flight and the
 * worker's peak RSS, against the targets (>= 200 tasks/s, < 300 MB at 3,000 tasks and 1,000 ms).
 */
export const CALLS_PER_TASK = 2;
const TARGETS = { tasksPerSecond: 200, peakRssMb: 300 };

/** The most tasks a second C calls in flight allow at L ms a call. */
export const boundTasksPerSecond = (maxInFlight: number, latencyMs: number): number =>
  latencyMs > 0 ? maxInFlight / (latencyMs / 1000) / CALLS_PER_TASK : Infinity;

/** Peak RSS (VmHWM) of a live Linux process, in MB; 0 elsewhere. */
function peakRssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const llmLatency: BenchMode = {
  jobs: 3000,
  settings: (o) => ({
    LLM_SIM_LATENCY_MS: o.llmLatencyMs,
    jobs: o.jobs,
    worker:
      Object.entries(o.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'defaults',
    LLM_PROVIDER: 'openai',
  }),
  async run(b) {
    const { llmLatencyMs: latencyMs, jobs, nodeArgs } = b.o;
    log(`llm-sim answers after ${latencyMs} ms; ${jobs} tasks queued; one worker drains them`);
    const samples: { t: number; inFlight: number; rssMb: number }[] = [];
    let maxInFlight = 0;
    let peakMb = 0;
    let t0 = 0;
    const drained = await b.drain(
      `one agent worker, llm-sim at ${latencyMs} ms a call`,
      'llm-latency',
      { llmSim: { LLM_SIM_LATENCY_MS: String(latencyMs) }, workerNodeArgs: nodeArgs },
      async (stack) => {
        const pid = stack.processes().find((p) => p.name === 'agent-worker')?.pid ?? 0;
        t0 ||= Date.now();
        const stats = (await (await fetch(`${stack.llmSimUrl}/admin/stats`)).json()) as { inFlight: number };
        const rssMb = Math.round((await pidusage(pid).catch(() => ({ memory: 0 }))).memory / 1048576);
        samples.push({ t: (Date.now() - t0) / 1000, inFlight: stats.inFlight, rssMb });
        maxInFlight ||= (await stack.scrape(['llm_calls_max_in_flight'])).llm_calls_max_in_flight;
        peakMb = Math.max(peakMb, rssMb, peakRssMb(pid));
      },
      200,
    );
    pidusage.clear();
    const real: Measurement = { ...drained, unit: 'tasks/s' };
    const bound = boundTasksPerSecond(maxInFlight, latencyMs);
    const busy = samples.map((x) => x.inFlight).filter((n) => n > 0);
    const mean = busy.length ? busy.reduce((a, n) => a + n, 0) / busy.length : 0;
    b.samples = samples;
    b.figures.push(
      {
        name: 'calls in flight (seen by llm-sim)',
        value: `mean ${mean.toFixed(0)}, peak ${Math.max(0, ...busy)}`,
      },
      {
        name: 'throughput',
        value: `${real.rate} tasks/s`,
        target: `>= ${TARGETS.tasksPerSecond} tasks/s`,
        ok: real.failures === 0 && real.rate >= TARGETS.tasksPerSecond,
      },
      {
        name: 'worker peak RSS',
        value: `${peakMb.toFixed(1)} MB`,
        target: `< ${TARGETS.peakRssMb} MB`,
        ok: peakMb < TARGETS.peakRssMb,
      },
    );
    const limit: Measurement = {
      label: `bound: ${maxInFlight} calls in flight / ${latencyMs} ms / ${CALLS_PER_TASK} calls a task`,
      rate: Math.round(bound * 10) / 10,
      unit: 'tasks/s',
      volume: `${Math.round(bound * CALLS_PER_TASK)} calls/s`,
      latency: '-',
      failures: 0,
      loadAverage: real.loadAverage,
    };
    return [compare('llm-latency', 'tasks/s against the bound (ratio to the bound)', limit, real)];
  },
};
export default llmLatency;
