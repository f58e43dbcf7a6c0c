import pidusage from 'pidusage';
import type { ProcessReport, WatchedProcess } from './types';

/**
 * Samples RSS and CPU (percent of one core, as `top` shows it) of the watched processes once a second:
 * the apps load-test:local started, --watch-pid ones, and the load generator itself.
 */
export class ProcessSampler {
  private readonly reports: ProcessReport[];
  private timer?: NodeJS.Timeout;
  private t0 = Date.now();
  private busy = false;

  constructor(processes: readonly WatchedProcess[]) {
    this.reports = processes.map((p) => ({ ...p, peakRssMb: 0, avgCpuPct: 0, peakCpuPct: 0, samples: [] }));
  }

  start(): void {
    this.t0 = Date.now();
    void this.sample();
    this.timer = setInterval(() => void this.sample(), 1000).unref();
  }

  async stop(): Promise<ProcessReport[]> {
    clearInterval(this.timer);
    await this.sample();
    pidusage.clear();
    for (const r of this.reports)
      r.avgCpuPct = r.samples.length
        ? round1(r.samples.reduce((a, s) => a + s.cpuPct, 0) / r.samples.length)
        : 0;
    return this.reports;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const t = round1((Date.now() - this.t0) / 1000);
    await Promise.all(
      this.reports.map(async (r) => {
        const stat = await pidusage(r.pid).catch(() => undefined); // exited: its last samples stand
        if (!stat) return;
        const sample = { t, rssMb: round1(stat.memory / 1048576), cpuPct: round1(stat.cpu) };
        r.samples.push(sample);
        r.peakRssMb = Math.max(r.peakRssMb, sample.rssMb);
        r.peakCpuPct = Math.max(r.peakCpuPct, sample.cpuPct);
      }),
    );
    this.busy = false;
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
