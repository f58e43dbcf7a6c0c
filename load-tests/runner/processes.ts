import pidusage from 'pidusage';

/**
 * Samples RSS and CPU of the processes a run watches (the apps load-test:local started, --watch-pid ones,
 * and the load generator itself) once a second. CPU is percent of one core, as `top` shows it.
 */
export interface ProcessSample {
  t: number;
  rssMb: number;
  cpuPct: number;
}

export interface ProcessReport {
  name: string;
  pid: number;
  peakRssMb: number;
  avgCpuPct: number;
  peakCpuPct: number;
  samples: ProcessSample[];
}

export interface WatchedProcess {
  name: string;
  pid: number;
}

export class ProcessSampler {
  private readonly reports: ProcessReport[];
  private timer?: NodeJS.Timeout;
  private t0 = Date.now();
  private busy = false;

  constructor(
    processes: readonly WatchedProcess[],
    private readonly everyMs = 1000,
  ) {
    this.reports = processes.map((p) => ({ ...p, peakRssMb: 0, avgCpuPct: 0, peakCpuPct: 0, samples: [] }));
  }

  start(t0 = Date.now()): void {
    this.t0 = t0;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<ProcessReport[]> {
    if (this.timer) clearInterval(this.timer);
    await this.sample();
    pidusage.clear();
    for (const r of this.reports) {
      const cpu = r.samples.map((s) => s.cpuPct);
      r.avgCpuPct = cpu.length ? round1(cpu.reduce((a, b) => a + b, 0) / cpu.length) : 0;
    }
    return this.reports;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const t = round1((Date.now() - this.t0) / 1000);
      await Promise.all(
        this.reports.map(async (r) => {
          try {
            const stat = await pidusage(r.pid);
            const sample = { t, rssMb: round1(stat.memory / 1048576), cpuPct: round1(stat.cpu) };
            r.samples.push(sample);
            r.peakRssMb = Math.max(r.peakRssMb, sample.rssMb);
            r.peakCpuPct = Math.max(r.peakCpuPct, sample.cpuPct);
          } catch {
            // The process has exited; its last samples stand.
          }
        }),
      );
    } finally {
      this.busy = false;
    }
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
