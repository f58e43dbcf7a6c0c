import { LeaseBook } from './lease-book';
import type { RateWindow, WindowCount, WindowRecord } from './rate-windows';

/**
 * The Lua script's rules on a clock the test controls: per window, add the hits, start the window
 * on its first hit, refuse (and block for blockDuration) once a hit would pass the limit, stop at
 * the first refusing window. The e2e suite runs the real script; this lets every lease rule be
 * checked at exact times.
 */
class FakeRedis {
  private readonly hits = new Map<string, { n: number; endsAt: number }>();
  private readonly blocks = new Map<string, number>();
  calls = 0;

  count(windows: readonly RateWindow[], asked: readonly number[], now: number): (WindowCount | undefined)[] {
    this.calls++;
    const out: (WindowCount | undefined)[] = windows.map(() => undefined);
    for (let i = 0; i < windows.length; i++) {
      const { name, ttlMs, limit, blockDurationMs } = windows[i];
      const n = asked[i];
      if (n === 0) continue;
      let w = this.hits.get(name);
      if (!w || now >= w.endsAt) w = { n: 0, endsAt: now + ttlMs };
      w.n += n;
      this.hits.set(name, w);
      const blockedUntil = this.blocks.get(name) ?? 0;
      let blocked = now < blockedUntil;
      if (!blocked && w.n - n >= limit) {
        this.blocks.set(name, now + blockDurationMs);
        blocked = true;
      }
      out[i] = {
        totalHits: w.n,
        msToExpire: w.endsAt - now,
        blocked,
        msToBlockExpire: blocked ? (this.blocks.get(name) ?? now) - now : 0,
      };
      if (blocked) break;
    }
    return out;
  }

  counted(name: string): number {
    return this.hits.get(name)?.n ?? 0;
  }
}

const burst = (limit: number): RateWindow => ({ name: 'burst', ttlMs: 1000, limit, blockDurationMs: 1000 });
const sustained = (limit: number): RateWindow => ({
  name: 'sustained',
  ttlMs: 60_000,
  limit,
  blockDurationMs: 60_000,
});

/** One replica's path through the book, as LimiterStorage drives it (without the wait for a pending top-up). */
function request(book: LeaseBook, redis: FakeRedis, windows: RateWindow[], now: number): WindowRecord[] {
  const leased = book.take('client', windows, now);
  if (leased) return leased;
  const asked = book.topUp('client', windows, LeaseBook.sizeFor(windows), now);
  return book.settle('client', windows, asked, redis.count(windows, asked, now), now);
}
const admitted = (records: WindowRecord[]) => !records.some((r) => r.isBlocked);

describe('LeaseBook', () => {
  it('leases 1% of the smallest limit, and nothing below 2 requests', () => {
    expect(LeaseBook.sizeFor([burst(10_000), sustained(400)])).toBe(4);
    expect(LeaseBook.sizeFor([burst(50), sustained(600)])).toBe(0);
    expect(LeaseBook.sizeFor([burst(199), sustained(100_000)])).toBe(0);
    expect(LeaseBook.sizeFor([burst(100_000), sustained(6_000_000)])).toBe(1000);
  });

  it('admits a lease locally: one Redis call per four requests, with the count each request would have seen', () => {
    const book = new LeaseBook();
    const redis = new FakeRedis();
    const windows = [burst(10_000), sustained(400)];
    const records = [0, 1, 2, 3].map(() => request(book, redis, windows, 0));
    expect(redis.calls).toBe(1);
    expect(records.map((r) => r[1].totalHits)).toEqual([1, 2, 3, 4]);
    expect(records.every(admitted)).toBe(true);
    request(book, redis, windows, 0);
    expect(redis.calls).toBe(2);
  });

  it('a short window ending tops up only what the long window lacks, so a slow client keeps its whole limit', () => {
    const book = new LeaseBook();
    const redis = new FakeRedis();
    const windows = [burst(10_000), sustained(400)];
    // One request every 600 ms: the burst window ends after every other request.
    let allowed = 0;
    for (let t = 0; t < 59_000; t += 600) if (admitted(request(book, redis, windows, t))) allowed++;
    expect(allowed).toBe(99);
    // The sustained window counted what was admitted plus at most one unspent lease, not 4 per burst window.
    expect(redis.counted('sustained')).toBeGreaterThanOrEqual(allowed);
    expect(redis.counted('sustained')).toBeLessThanOrEqual(allowed + 3);
  });

  it('tops up each window by the difference only', () => {
    const book = new LeaseBook();
    const redis = new FakeRedis();
    const windows = [burst(10_000), sustained(400)];
    request(book, redis, windows, 0);
    request(book, redis, windows, 0);
    // Two of four used; the burst window ends at 1000.
    expect(book.topUp('client', windows, 4, 500)).toEqual([2, 2]);
    expect(book.topUp('client', windows, 4, 1000)).toEqual([4, 2]);
  });

  it('two replicas admit exactly the limit between them, whatever the order, and nothing after it', () => {
    const redis = new FakeRedis();
    const replicas = [new LeaseBook(), new LeaseBook()];
    const windows = [burst(10_000), sustained(400)];
    const statuses: boolean[] = [];
    // Alternating replicas, about 8 requests per 1 s burst window (so burst windows end mid-lease),
    // all within one sustained window.
    for (let i = 0; i < 460; i++) statuses.push(admitted(request(replicas[i % 2], redis, windows, i * 123)));
    expect(statuses.filter(Boolean)).toHaveLength(400);
    // A refusal comes at most two leases (one per replica) before the limit, and none is admitted
    // once both replicas' credit is spent.
    expect(statuses.indexOf(false)).toBeGreaterThanOrEqual(400 - 2 * 4);
    expect(statuses.lastIndexOf(true)).toBeLessThan(400 + 2 * 4);
  });

  it('a refused top-up refuses the request with the refusing window last, and keeps what the others counted', () => {
    const book = new LeaseBook();
    const redis = new FakeRedis();
    const windows = [burst(10_000), sustained(200)];
    for (let i = 0; i < 200; i++) expect(admitted(request(book, redis, windows, 0))).toBe(true);
    const refused = request(book, redis, windows, 0);
    expect(refused.map((r) => [r.window.name, r.isBlocked])).toEqual([
      ['burst', false],
      ['sustained', true],
    ]);
    expect(refused[1].timeToBlockExpire).toBe(60);
    // The burst window's two new hits are still this replica's credit: no extra burst count next time.
    expect(book.topUp('client', windows, 2, 10)).toEqual([0, 2]);
  });

  it('forgets clients whose windows have all ended once more than 1,000 hold credit', () => {
    const book = new LeaseBook();
    const redis = new FakeRedis();
    const windows = [burst(10_000), sustained(400)];
    for (let i = 0; i < 1000; i++) {
      const asked = book.topUp(`c${i}`, windows, 4, 0);
      book.settle(`c${i}`, windows, asked, redis.count(windows, asked, 0), 0);
    }
    expect(book.size).toBe(1000);
    const asked = book.topUp('late', windows, 4, 61_000);
    book.settle('late', windows, asked, redis.count(windows, asked, 61_000), 61_000);
    expect(book.size).toBe(1);
  });
});
