/** The jobs a processor is running right now, so shutdown can wait for them. */
export class ActiveJobs {
  private readonly running = new Set<Promise<void>>();

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return work;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves true when every running job has finished, false when `timeoutMs` passed first. */
  async settle(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = (async () => {
      while (this.running.size > 0) await Promise.all(this.running);
      return true as const;
    })();
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
