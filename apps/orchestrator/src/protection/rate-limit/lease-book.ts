import { windowRecord, type RateWindow, type WindowCount, type WindowRecord } from './rate-windows';

/**
 * Share of a window's limit one replica takes from Redis at a time when the limit is large (the
 * loadtest tier: 100,000 per second). Below two requests per lease, every request is counted in
 * Redis on its own, so the default tier (50 per second) stays exact.
 */
export const LEASE_SHARE = 0.01;

/** Past this many clients holding credit, clients whose windows have all ended are forgotten. */
const SWEEP_ABOVE = 1000;

/** Hits this replica counted in one of a client's windows and has not admitted yet. */
interface Credit {
  /** The window's count in Redis right after this replica's last top-up. */
  total: number;
  /** Counted hits not yet admitted. */
  unused: number;
  /** When the window ends (ms since epoch), measured from before the Redis call, so never late. */
  endsAt: number;
}

/**
 * Leases for large limits, with no I/O and no clock of its own (callers pass `now`), so every rule
 * is unit-tested.
 *
 * A replica holds, per client and per window, hits it has counted in Redis but not admitted yet (its
 * credit). A request is admitted locally while every window has credit. When one runs out, or its
 * window ends, the replica tops every window up to the lease size in one Redis round trip: a window
 * still holding credit is counted only for the difference, and one with full credit not at all. So a
 * short window (burst, 1 s) ending does not throw away what a long window (sustained, 60 s) counted:
 * credit is lost only when its own window ends, at most one lease per replica and window.
 *
 * Replicas together never admit more than a window's limit: every admitted request was counted in
 * Redis in each of its windows, under the limit, before it was admitted.
 */
export class LeaseBook {
  private readonly credits = new Map<string, (Credit | undefined)[]>();

  /** Lease size for these windows: LEASE_SHARE of the smallest limit, or 0 when that is below 2. */
  static sizeFor(windows: readonly RateWindow[]): number {
    const size = Math.floor(Math.min(...windows.map((w) => w.limit)) * LEASE_SHARE);
    return size < 2 ? 0 : size;
  }

  /** Admits one request from the credit of every window, or returns null when one has none left. */
  take(client: string, windows: readonly RateWindow[], now: number): WindowRecord[] | null {
    const credits = this.credits.get(client);
    if (!credits || !windows.every((_, i) => live(credits[i], now) > 0)) return null;
    return this.admit(credits, windows, now);
  }

  /** Hits to count per window so each holds `size` credit again (0 for a window already full). */
  topUp(client: string, windows: readonly RateWindow[], size: number, now: number): number[] {
    const credits = this.credits.get(client);
    return windows.map((_, i) => size - live(credits?.[i], now));
  }

  /**
   * Takes in what Redis counted for a top-up (`asked` per window, as topUp returned, measured at
   * `now`). Each window that counted without refusing adds the hits that fit under its limit to its
   * credit. Unless a window refused, this request is admitted from the credit. Returns this
   * request's records: the refusing window's record last when it was refused.
   */
  settle(
    client: string,
    windows: readonly RateWindow[],
    asked: readonly number[],
    counts: readonly (WindowCount | undefined)[],
    now: number,
  ): WindowRecord[] {
    const credits = windows.map((_, i) => {
      const held = this.credits.get(client)?.[i];
      return held && now < held.endsAt ? held : undefined;
    });
    const refused = counts.findIndex((c) => c?.blocked);
    windows.forEach((window, i) => {
      const count = counts[i];
      if (asked[i] === 0 || !count || count.blocked) return;
      // The script refused none of these hits, so at least the first fit under the limit.
      const fits = Math.min(asked[i], window.limit - (count.totalHits - asked[i]));
      credits[i] = {
        total: count.totalHits,
        unused: (credits[i]?.unused ?? 0) + fits,
        endsAt: now + count.msToExpire,
      };
    });
    if (refused >= 0) {
      this.remember(client, credits, now);
      return windows.slice(0, refused + 1).map((window, i) => {
        const count = counts[i];
        if (count)
          return windowRecord(
            window,
            count.totalHits,
            count.msToExpire,
            count.blocked,
            count.msToBlockExpire,
          );
        const credit = credits[i];
        return windowRecord(
          window,
          credit ? credit.total - credit.unused : 0,
          credit ? credit.endsAt - now : window.ttlMs,
        );
      });
    }
    this.remember(client, credits, now);
    return this.admit(credits, windows, now);
  }

  /** Number of clients holding credit (for tests and the sweep). */
  get size(): number {
    return this.credits.size;
  }

  private admit(
    credits: (Credit | undefined)[],
    windows: readonly RateWindow[],
    now: number,
  ): WindowRecord[] {
    return windows.map((window, i) => {
      const credit = credits[i]!;
      credit.unused--;
      return windowRecord(window, credit.total - credit.unused, credit.endsAt - now);
    });
  }

  private remember(client: string, credits: (Credit | undefined)[], now: number): void {
    if (!this.credits.has(client) && this.credits.size >= SWEEP_ABOVE) {
      for (const [other, held] of this.credits) {
        if (held.every((c) => live(c, now) === 0)) this.credits.delete(other);
      }
    }
    this.credits.set(client, credits);
  }
}

/** Credit still usable at `now`: none once its window has ended. */
function live(credit: Credit | undefined, now: number): number {
  return credit && now < credit.endsAt ? credit.unused : 0;
}
