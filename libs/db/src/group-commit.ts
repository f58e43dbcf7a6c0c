export interface GroupCommitOptions<I, R> {
  /** Identifies the row an input writes; unique within one statement. */
  key: (input: I) => string;
  /** Runs one statement for the whole batch and returns the rows it gave back, by key. */
  execute: (batch: I[]) => Promise<Map<string, R>>;
  /** Inputs per statement; more in one turn are split over several statements. */
  maxBatch: number;
  /**
   * True for an error caused by one input's values rather than by the statement (bad data,
   * a constraint): the batch is then run again one input at a time, so that input fails alone.
   */
  isRowError: (err: unknown) => boolean;
  /**
   * Statements of this queue running at once; no limit when absent. While the limit is reached,
   * new calls wait, and those that arrived meanwhile go out together in the next statement as
   * soon as one finishes.
   */
  maxInFlight?: number;
  /**
   * How long a batch gathers calls before its statement goes out, from its first call; 0 or
   * absent: the next event-loop turn. A window trades that much latency per call for fewer,
   * larger statements, for writes nobody waits on (the worker's).
   */
  windowMs?: number;
}

/**
 * `isRowError` for Postgres: SQLSTATE classes 22 (data exception) and 23 (integrity constraint
 * violation) come from the values of one row, e.g. a task id that is not a uuid, a token count
 * beyond integer (validation refuses what it can, this is the net behind it): that row must fail
 * its own caller only, as it did when every caller had its own statement.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

interface Pending<I, R> {
  input: I;
  key: string;
  resolve: (row: R | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Splits pending inputs into statements: at most `maxBatch` each, and never the same key
 * twice in one, because a statement that names a row twice writes and returns it once, and
 * both callers would take that row for their own. A repeated key gets its own statement, which
 * Postgres orders after the first one with the row lock, exactly as two separate calls.
 * Each batch is sorted by key so that concurrent statements (other workers) lock shared rows
 * in the same order.
 */
export function splitBatches<T>(items: readonly T[], key: (item: T) => string, maxBatch: number): T[][] {
  const batches: { items: T[]; keys: Set<string> }[] = [];
  for (const item of items) {
    const k = key(item);
    let batch = batches.find((b) => b.items.length < maxBatch && !b.keys.has(k));
    if (!batch) {
      batch = { items: [], keys: new Set() };
      batches.push(batch);
    }
    batch.items.push(item);
    batch.keys.add(k);
  }
  return batches.map((b) => b.items.sort((x, y) => compare(key(x), key(y))));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Group commit: calls made in the same event-loop turn (or the same `windowMs`) go out together
 * as one statement (one round trip, one commit) instead of one each. Without a window a lone
 * call waits one turn, so idle latency does not change. Every caller gets only its own row, or null when the statement
 * gave none back, and only after the statement committed; when the statement fails, every
 * caller in it gets the error (except for row errors, see `isRowError`).
 */
export class GroupCommitQueue<I, R> {
  private pending: Pending<I, R>[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly maxInFlight: number;

  constructor(private readonly options: GroupCommitOptions<I, R>) {
    const { maxInFlight, windowMs } = options;
    if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    }
    if (windowMs !== undefined && !(Number.isFinite(windowMs) && windowMs >= 0)) {
      throw new RangeError(`windowMs must be a number >= 0, got ${windowMs}`);
    }
    this.maxInFlight = maxInFlight ?? Infinity;
  }

  submit(input: I): Promise<R | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, key: this.options.key(input), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        const go = () => {
          this.scheduled = false;
          this.flush();
        };
        if (this.options.windowMs) setTimeout(go, this.options.windowMs);
        else setImmediate(go);
      }
    });
  }

  /** Starts as many statements as maxInFlight allows; the calls left over stay pending, in order. */
  private flush(): void {
    const free = this.maxInFlight - this.inFlight;
    if (free <= 0 || this.pending.length === 0) return;
    const batches = splitBatches(this.pending, (p) => p.key, this.options.maxBatch);
    const now = batches.slice(0, free);
    if (now.length < batches.length) {
      const started = new Set(now.flat());
      this.pending = this.pending.filter((p) => !started.has(p));
    } else {
      this.pending = [];
    }
    for (const batch of now) this.start(batch);
  }

  private start(batch: Pending<I, R>[]): void {
    this.inFlight++;
    void this.run(batch).finally(() => {
      this.inFlight--;
      // Calls held back by the limit go out now. Without a limit none are held back, and calls
      // made in this turn keep waiting for its end, to go out together.
      if (this.options.maxInFlight !== undefined) this.flush();
    });
  }

  private async run(batch: Pending<I, R>[]): Promise<void> {
    let rows: Map<string, R>;
    try {
      rows = await this.options.execute(batch.map((p) => p.input));
    } catch (err) {
      if (batch.length > 1 && this.options.isRowError(err)) {
        // The statement rolled back as a whole, so running its inputs again one by one is safe.
        // One after another in this statement's place: all at once would break maxInFlight and
        // take every pool connection from the other callers.
        for (const p of batch) await this.run([p]);
      } else {
        for (const p of batch) p.reject(err);
      }
      return;
    }
    for (const p of batch) p.resolve(rows.get(p.key) ?? null);
  }
}
