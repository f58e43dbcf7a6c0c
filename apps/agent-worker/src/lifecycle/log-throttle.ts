/**
 * Lets a repeated log line through at most once per interval and counts what it held back.
 * While Redis is down every Bull client reports every reconnect attempt; one line per queue
 * every few seconds says the same thing.
 */
export class LogThrottle {
  private last = 0;
  private suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** Calls `log` with the number of suppressed lines when the interval has passed. */
  run(log: (suppressed: number) => void, now = Date.now()): void {
    if (now - this.last < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    const suppressed = this.suppressed;
    this.last = now;
    this.suppressed = 0;
    log(suppressed);
  }
}
