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
   * True for an error that says nothing about the inputs: the connection to the database broke
   * or could not be had. The batch's inputs are then run again one at a time, each up to
   * `connectionRetries` more times, so work finished before the statement (LLM results) is not
   * thrown away for one broken connection. Only for statements that are safe to run again: the
   * failed one may have committed before its connection broke. Absent: the batch fails.
   */
  isConnectionError?: (err: unknown) => boolean;
  /** Further tries per input after a connection error (default 3); a pause of `connectionRetryDelayMs` x try before each. */
  connectionRetries?: number;
  /** Default 100 ms. */
  connectionRetryDelayMs?: number;
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

/** Node socket errors that mean the database could not be reached or the connection broke. */
const SOCKET_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * `isConnectionError` for Postgres and node-postgres: SQLSTATE class 08 (connection exception),
 * 57P01-57P03 (the server is shutting down, crashed or not accepting connections yet), socket
 * errors, and node-postgres's own errors without a code (a connection terminated, no connection
 * from the pool in time).
 */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code)) return true;
    if (SOCKET_ERROR_CODES.has(code)) return true;
  }
  const message = err instanceof Error ? err.message : '';
  return /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
    message,
  );
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
      } else if (this.options.isConnectionError?.(err)) {
        await this.retryAlone(batch, err);
      } else {
        for (const p of batch) p.reject(err);
      }
      return;
    }
    for (const p of batch) p.resolve(rows.get(p.key) ?? null);
  }

  /**
   * After a connection error: each input on its own, one after another in the statement's place
   * (as for row errors), with up to `connectionRetries` tries and a growing pause after each
   * failed one. An input whose tries all fail on the connection means the database is out of
   * reach: it and the inputs not yet tried get that error. So the retry ends after at most
   * `connectionRetries` failed tries in a row, and sends at most inputs + 2 x retries statements.
   */
  private async retryAlone(batch: Pending<I, R>[], first: unknown): Promise<void> {
    const retries = this.options.connectionRetries ?? 3;
    const delayMs = this.options.connectionRetryDelayMs ?? 100;
    let failedTries = 1;
    let lastError = first;
    for (const [i, p] of batch.entries()) {
      let settled = false;
      for (let tries = 0; !settled && tries < retries; tries++) {
        if (failedTries > 0) await new Promise((resolve) => setTimeout(resolve, delayMs * failedTries));
        try {
          const rows = await this.options.execute([p.input]);
          p.resolve(rows.get(p.key) ?? null);
          settled = true;
          failedTries = 0;
        } catch (err) {
          lastError = err;
          if (!this.options.isConnectionError?.(err)) {
            p.reject(err);
            settled = true;
            failedTries = 0;
          } else {
            failedTries++;
          }
        }
      }
      if (!settled) {
        for (const rest of batch.slice(i)) rest.reject(lastError);
        return;
      }
    }
  }
}
