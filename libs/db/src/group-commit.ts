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
}

interface Pending<I, R> {
  input: I;
  key: string;
  resolve: (row: R | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Splits one turn's inputs into statements: at most `maxBatch` each, and never the same key
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
 * Group commit: calls made in the same event-loop turn go out together at the next turn as one
 * statement (one round trip, one commit) instead of one each. A lone call waits one turn, so
 * idle latency does not change. Every caller gets only its own row, or null when the statement
 * gave none back, and only after the statement committed; when the statement fails, every
 * caller in it gets the error (except for row errors, see `isRowError`).
 */
export class GroupCommitQueue<I, R> {
  private pending: Pending<I, R>[] = [];
  private scheduled = false;

  constructor(private readonly options: GroupCommitOptions<I, R>) {}

  submit(input: I): Promise<R | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, key: this.options.key(input), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    for (const batch of splitBatches(pending, (p) => p.key, this.options.maxBatch)) void this.run(batch);
  }

  private async run(batch: Pending<I, R>[]): Promise<void> {
    let rows: Map<string, R>;
    try {
      rows = await this.options.execute(batch.map((p) => p.input));
    } catch (err) {
      // The statement rolled back as a whole, so running its inputs again one by one is safe.
      if (batch.length > 1 && this.options.isRowError(err)) {
        for (const p of batch) void this.run([p]);
      } else {
        for (const p of batch) p.reject(err);
      }
      return;
    }
    for (const p of batch) p.resolve(rows.get(p.key) ?? null);
  }
}
