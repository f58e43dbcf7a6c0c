import { GroupCommitQueue, isConnectionError, splitBatches } from './group-commit';

class RowError extends Error {}

/**
 * A queue over an in-memory "statement": each execute returns a row per key it was given
 * (unless the key is in `missing`), tagged with the statement's number, and logs its batch.
 */
function queueOver(options: {
  maxBatch?: number;
  windowMs?: number;
  missing?: string[];
  fail?: (batch: string[]) => Error | null;
}) {
  const statements: string[][] = [];
  const queue = new GroupCommitQueue<string, { key: string; statement: number }>({
    key: (input) => input,
    maxBatch: options.maxBatch ?? 100,
    windowMs: options.windowMs,
    isRowError: (err) => err instanceof RowError,
    execute: async (batch) => {
      statements.push(batch);
      const error = options.fail?.(batch);
      if (error) throw error;
      const statement = statements.length;
      return new Map(
        batch.filter((k) => !options.missing?.includes(k)).map((key) => [key, { key, statement }]),
      );
    },
  });
  return { queue, statements };
}

describe('GroupCommitQueue', () => {
  it('sends the calls of one event-loop turn as one statement; each caller gets its own row, or null', async () => {
    const { queue, statements } = queueOver({ missing: ['gone'] });
    const results = await Promise.all(['c', 'a', 'gone', 'b'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b', 'c', 'gone']]);
    expect(results).toEqual([
      { key: 'c', statement: 1 },
      { key: 'a', statement: 1 },
      null,
      { key: 'b', statement: 1 },
    ]);
  });

  it('waits one turn, not longer: a lone call goes out at the next turn, and later calls in their own statement', async () => {
    const { queue, statements } = queueOver({});
    const first = queue.submit('a');
    expect(statements).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(statements).toEqual([['a']]);
    await expect(first).resolves.toEqual({ key: 'a', statement: 1 });
    await expect(queue.submit('b')).resolves.toEqual({ key: 'b', statement: 2 });
    expect(statements).toEqual([['a'], ['b']]);
  });

  it('splits a turn beyond maxBatch over several statements', async () => {
    const { queue, statements } = queueOver({ maxBatch: 2 });
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(results.map((r) => r?.key)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('never puts one key twice in a statement: each repeat runs in a statement of its own and gets that row', async () => {
    const { queue, statements } = queueOver({});
    const results = await Promise.all(['a', 'b', 'a', 'c', 'a', 'b'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b', 'c'], ['a', 'b'], ['a']]);
    expect(results).toEqual([
      { key: 'a', statement: 1 },
      { key: 'b', statement: 1 },
      { key: 'a', statement: 2 },
      { key: 'c', statement: 1 },
      { key: 'a', statement: 3 },
      { key: 'b', statement: 2 },
    ]);
  });

  it('a failed statement rejects every caller in it, and only them', async () => {
    const down = new Error('connection terminated');
    const { queue, statements } = queueOver({
      maxBatch: 2,
      fail: (batch) => (batch.includes('a') ? down : null),
    });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b'], ['c']]);
    expect(results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
      { status: 'fulfilled', value: { key: 'c', statement: 2 } },
    ]);
  });

  it('after a row error the statement runs again one input at a time, so only the bad input fails', async () => {
    const bad = new RowError('invalid input syntax for type uuid: "bad"');
    const { queue, statements } = queueOver({ fail: (batch) => (batch.includes('bad') ? bad : null) });
    const results = await Promise.allSettled(['a', 'bad', 'b'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b', 'bad'], ['a'], ['b'], ['bad']]);
    expect(results).toEqual([
      { status: 'fulfilled', value: { key: 'a', statement: 2 } },
      { status: 'rejected', reason: bad },
      { status: 'fulfilled', value: { key: 'b', statement: 3 } },
    ]);
  });
});

/**
 * A queue whose statements run until the test finishes them, counting how many run at once. A
 * statement that contains `bad` fails with a row error.
 */
function heldQueue(options: { maxInFlight: number; maxBatch?: number; bad?: string }) {
  const statements: { batch: string[]; done: boolean; finish: () => void }[] = [];
  let running = 0;
  let mostRunning = 0;
  const queue = new GroupCommitQueue<string, { key: string; statement: number }>({
    key: (input) => input,
    maxBatch: options.maxBatch ?? 100,
    maxInFlight: options.maxInFlight,
    isRowError: (err) => err instanceof RowError,
    execute: (batch) => {
      const statement = statements.length + 1;
      mostRunning = Math.max(mostRunning, ++running);
      return new Promise((resolve, reject) => {
        const entry = {
          batch,
          done: false,
          finish: () => {
            entry.done = true;
            running--;
            if (options.bad !== undefined && batch.includes(options.bad)) reject(new RowError(options.bad));
            else resolve(new Map(batch.map((key) => [key, { key, statement }])));
          },
        };
        statements.push(entry);
      });
    },
  });
  return {
    queue,
    batches: () => statements.map((s) => s.batch),
    finish: (statement: number) => statements[statement - 1].finish(),
    unfinished: () => statements.filter((s) => !s.done),
    mostRunning: () => mostRunning,
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommitQueue with maxInFlight', () => {
  it('holds calls while the limit is reached, then sends all that arrived meanwhile as the next statement', async () => {
    const q = heldQueue({ maxInFlight: 1 });
    const a = q.queue.submit('a');
    await nextTurn();
    expect(q.batches()).toEqual([['a']]);

    const c = q.queue.submit('c');
    await nextTurn();
    const b = q.queue.submit('b');
    await nextTurn();
    expect(q.batches()).toEqual([['a']]);

    q.finish(1);
    await nextTurn();
    expect(q.batches()).toEqual([['a'], ['b', 'c']]);
    q.finish(2);
    await expect(Promise.all([a, b, c])).resolves.toEqual([
      { key: 'a', statement: 1 },
      { key: 'b', statement: 2 },
      { key: 'c', statement: 2 },
    ]);
    expect(q.unfinished()).toEqual([]);
  });

  it('sends held calls beyond maxBatch over the following statements, oldest first', async () => {
    const q = heldQueue({ maxInFlight: 1, maxBatch: 2 });
    const calls = [q.queue.submit('a')];
    await nextTurn();
    calls.push(...['d', 'c', 'b', 'e'].map((k) => q.queue.submit(k)));
    await nextTurn();
    expect(q.batches()).toEqual([['a']]);
    for (const statement of [1, 2, 3]) {
      q.finish(statement);
      await nextTurn();
    }
    expect(q.batches()).toEqual([['a'], ['c', 'd'], ['b', 'e']]);
    expect(q.unfinished()).toEqual([]);
    expect((await Promise.all(calls)).map((r) => r?.statement)).toEqual([1, 2, 2, 3, 3]);
  });

  it('never runs more than maxInFlight statements, and sends every call exactly once', async () => {
    const q = heldQueue({ maxInFlight: 2, maxBatch: 3 });
    const keys: string[] = [];
    const calls: Promise<{ key: string } | null>[] = [];
    for (let turn = 0; turn < 30; turn++) {
      for (const k of [`${turn}a`, `${turn}b`]) {
        keys.push(k);
        calls.push(q.queue.submit(k));
      }
      if (turn % 3 === 2) q.unfinished()[0]?.finish();
      await nextTurn();
    }
    while (q.unfinished().length > 0) {
      q.unfinished()[0].finish();
      await nextTurn();
    }
    expect(q.mostRunning()).toBe(2);
    expect((await Promise.all(calls)).map((r) => r?.key)).toEqual(keys);
    expect(q.batches().flat().sort()).toEqual([...keys].sort());
    expect(Math.max(...q.batches().map((b) => b.length))).toBe(3);
  });

  it('re-runs the inputs of a statement with a row error one after another, within the limit', async () => {
    const q = heldQueue({ maxInFlight: 1, bad: 'bad' });
    const first = Promise.allSettled(['a', 'bad', 'b'].map((k) => q.queue.submit(k)));
    await nextTurn();
    q.finish(1);
    await nextTurn();
    const c = q.queue.submit('c');
    await nextTurn();
    expect(q.batches()).toEqual([['a', 'b', 'bad'], ['a']]);
    for (const statement of [2, 3, 4, 5]) {
      q.finish(statement);
      await nextTurn();
    }
    expect(q.batches()).toEqual([['a', 'b', 'bad'], ['a'], ['b'], ['bad'], ['c']]);
    expect(q.mostRunning()).toBe(1);
    expect(await first).toEqual([
      { status: 'fulfilled', value: { key: 'a', statement: 2 } },
      { status: 'rejected', reason: new RowError('bad') },
      { status: 'fulfilled', value: { key: 'b', statement: 3 } },
    ]);
    await expect(c).resolves.toEqual({ key: 'c', statement: 5 });
  });

  it('refuses a maxInFlight that would never let a statement run', () => {
    expect(() => heldQueue({ maxInFlight: 0 })).toThrow('maxInFlight must be a positive integer, got 0');
  });
});

describe('GroupCommitQueue with windowMs', () => {
  // Fake timers: the window is measured on jest's clock, so a busy machine cannot stretch a turn past it.
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gathers the calls of several turns within the window into one statement, sent when it ends', async () => {
    const { queue, statements } = queueOver({ windowMs: 40 });
    const first = queue.submit('a');
    await jest.advanceTimersByTimeAsync(20);
    const second = queue.submit('b');
    await jest.advanceTimersByTimeAsync(19);
    const third = queue.submit('c');
    expect(statements).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(statements).toEqual([['a', 'b', 'c']]);
    const results = await Promise.all([first, second, third]);
    expect(results.map((r) => r?.statement)).toEqual([1, 1, 1]);
  });

  it('starts a new window after a flush: a later call goes in the next statement', async () => {
    const { queue, statements } = queueOver({ windowMs: 10 });
    const first = queue.submit('a');
    await jest.advanceTimersByTimeAsync(10);
    await first;
    const second = queue.submit('b');
    await jest.advanceTimersByTimeAsync(10);
    await second;
    expect(statements).toEqual([['a'], ['b']]);
  });

  it('refuses a negative or non-numeric window', () => {
    expect(() => queueOver({ windowMs: -1 })).toThrow(RangeError);
    expect(() => queueOver({ windowMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('splitBatches', () => {
  it('fills batches in order up to the cap, keeps keys unique per batch and sorts each by key', () => {
    const items = ['d', 'b', 'd', 'a', 'c', 'd', 'e'];
    expect(splitBatches(items, (k) => k, 3)).toEqual([['a', 'b', 'd'], ['c', 'd', 'e'], ['d']]);
  });
});

describe('GroupCommitQueue after a connection error', () => {
  class ConnectionLost extends Error {
    code = '08006';
  }
  function retryingQueue(fail: (batch: string[], call: number) => Error | null) {
    const statements: string[][] = [];
    const queue = new GroupCommitQueue<string, { key: string; statement: number }>({
      key: (input) => input,
      maxBatch: 100,
      isRowError: (err) => err instanceof RowError,
      isConnectionError,
      connectionRetries: 3,
      connectionRetryDelayMs: 1,
      execute: async (batch) => {
        statements.push(batch);
        const error = fail(batch, statements.length);
        if (error) throw error;
        return new Map(batch.map((key) => [key, { key, statement: statements.length }]));
      },
    });
    return { queue, statements };
  }

  it('runs each input again on its own, so a broken connection loses no row', async () => {
    const { queue, statements } = retryingQueue((_, call) =>
      call === 1 ? new ConnectionLost('gone') : null,
    );
    const results = await Promise.all(['a', 'b', 'c'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b', 'c'], ['a'], ['b'], ['c']]);
    expect(results).toEqual([
      { key: 'a', statement: 2 },
      { key: 'b', statement: 3 },
      { key: 'c', statement: 4 },
    ]);
  });

  it('retries an input a bounded number of times; when the database stays away the rest fail with it', async () => {
    const down = new ConnectionLost('still gone');
    const { queue, statements } = retryingQueue(() => down);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((k) => queue.submit(k)));
    expect(statements).toEqual([['a', 'b', 'c'], ['a'], ['a'], ['a']]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(results[1]).toEqual({ status: 'rejected', reason: down });
  });

  it('a row error during the retry fails only that input', async () => {
    const bad = new RowError('bad');
    const { queue } = retryingQueue((batch, call) =>
      call === 1 ? new ConnectionLost('gone') : batch.includes('bad') ? bad : null,
    );
    const results = await Promise.allSettled(['a', 'bad', 'b'].map((k) => queue.submit(k)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it.each([
    [{ code: '08006' }, true],
    [{ code: '08P01' }, true],
    [{ code: '57P01' }, true],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    [new Error('Connection terminated unexpectedly'), true],
    [new Error('timeout exceeded when trying to connect'), true],
    [{ code: '23505' }, false],
    [{ code: '57014' }, false], // statement timeout: the statement, not the connection
    [new Error('boom'), false],
  ])('isConnectionError(%p) is %p', (err, expected) => expect(isConnectionError(err)).toBe(expected));
});
