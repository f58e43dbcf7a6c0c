import { GroupCommitQueue, splitBatches } from './group-commit';

class RowError extends Error {}

/**
 * A queue over an in-memory "statement": each execute returns a row per key it was given
 * (unless the key is in `missing`), tagged with the statement's number, and logs its batch.
 */
function queueOver(options: {
  maxBatch?: number;
  missing?: string[];
  fail?: (batch: string[]) => Error | null;
}) {
  const statements: string[][] = [];
  const queue = new GroupCommitQueue<string, { key: string; statement: number }>({
    key: (input) => input,
    maxBatch: options.maxBatch ?? 100,
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

describe('splitBatches', () => {
  it('fills batches in order up to the cap, keeps keys unique per batch and sorts each by key', () => {
    const items = ['d', 'b', 'd', 'a', 'c', 'd', 'e'];
    expect(splitBatches(items, (k) => k, 3)).toEqual([['a', 'b', 'd'], ['c', 'd', 'e'], ['d']]);
  });
});
