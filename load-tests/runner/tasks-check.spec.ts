import { tallyTasks } from './tasks-check';

describe('end-to-end tally', () => {
  it('counts lost (missing or unfinished), duplicates and succeeded tasks without a post', () => {
    const states = new Map([
      ['a', { status: 'succeeded', posts: 1, completionMs: 10 }],
      ['b', { status: 'succeeded', posts: 2, completionMs: 20 }],
      ['c', { status: 'succeeded', posts: 0, completionMs: 30 }],
      ['d', { status: 'failed', posts: 0, completionMs: null }],
      ['e', { status: 'running', posts: 0, completionMs: null }],
      ['f', { status: 'cancelled', posts: 0, completionMs: null }],
    ]);
    const t = tallyTasks(['a', 'b', 'c', 'd', 'e', 'f', 'g'], states, 1);
    expect(t).toMatchObject({
      accepted: 7,
      succeeded: 3,
      failed: 1,
      cancelled: 1,
      unfinished: 1,
      missing: 1,
      lost: 2,
      duplicates: 2,
      succeededWithoutPost: 1,
    });
    expect(t.completionMs.count).toBe(3);
    expect(t.completionMs.p50).toBeCloseTo(20, 0);
    expect(t.completionMs.max).toBeCloseTo(30, 0);
  });

  it('is clean when every task succeeded once', () => {
    const states = new Map([['a', { status: 'succeeded', posts: 1, completionMs: 5 }]]);
    expect(tallyTasks(['a'], states, 0)).toMatchObject({
      lost: 0,
      duplicates: 0,
      succeededWithoutPost: 0,
      succeeded: 1,
    });
  });
});
