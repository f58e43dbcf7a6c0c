import { countActiveTasksByTenant } from '@app/db';
import { ApiError, AppConfig } from '@app/platform';
import {
  HttpStatus,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { Pool } from 'pg';

/**
 * TENANT_MAX_ACTIVE_TASKS: queued plus running tasks per tenant, checked on POST /v1/tasks with
 * no query of its own. Each replica re-counts active tasks per tenant every
 * TENANT_QUOTA_REFRESH_MS (one index-only statement for all tenants) and adds the tasks it is
 * inserting now and those it committed since that count began (a count can only see committed rows).
 *
 * The bound: one replica never lets a tenant past the cap. With R replicas, each one only knows
 * its own acceptances since the last count, so within one refresh interval a tenant can get up
 * to (R - 1) x (cap - count) more than the cap; the next count sees them and refuses until the
 * tenant is back under it. A task refused later (422, a replay) still counts until the next
 * count, which errs on the side of refusing: it never lets a tenant over by itself.
 */
@Injectable()
export class TenantQuota implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TenantQuota.name);
  private readonly cap: number;
  private counted = new Map<string, number>();
  /** Accepted while the count in flight ran: possibly in it, counted until it lands. */
  private pending = new Map<string, number>();
  /** Committed since the last count began. */
  private accepted = new Map<string, number>();
  /** Admitted and not yet committed (or refused): no count can include them yet. */
  private readonly inserting = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing = false;
  private readonly refused: Counter;

  constructor(
    private readonly pool: Pool,
    private readonly config: AppConfig,
    registry: Registry,
  ) {
    this.cap = config.get('TENANT_MAX_ACTIVE_TASKS');
    this.refused = new Counter({
      name: 'tasks_quota_refused_total',
      help: 'POST /v1/tasks refused with 429 because the tenant had TENANT_MAX_ACTIVE_TASKS active tasks (no tenant label: tenants are unbounded).',
      registers: [registry],
    });
  }

  get enabled(): boolean {
    return this.cap > 0;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.config.get('TENANT_QUOTA_REFRESH_MS'));
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Counts one more active task for `tenant`, or throws the 429 when it is at its cap. Call the
   * returned function once the insert is over, with whether a row went in.
   */
  admit(tenant: string): (inserted: boolean) => void {
    if (!this.enabled) return () => undefined;
    const active =
      (this.counted.get(tenant) ?? 0) +
      (this.pending.get(tenant) ?? 0) +
      (this.accepted.get(tenant) ?? 0) +
      (this.inserting.get(tenant) ?? 0);
    if (active >= this.cap) {
      this.refused.inc();
      throw new ApiError(
        HttpStatus.TOO_MANY_REQUESTS,
        `Tenant ${tenant} has ${active} active tasks (queued or running), the most TENANT_MAX_ACTIVE_TASKS allows (${this.cap}); submit more once some finish`,
        undefined,
        Math.max(1, Math.ceil(this.config.get('TENANT_QUOTA_REFRESH_MS') / 1000)),
      );
    }
    add(this.inserting, tenant, 1);
    let settled = false;
    return (inserted) => {
      if (settled) return;
      settled = true;
      add(this.inserting, tenant, -1);
      if (inserted) add(this.accepted, tenant, 1);
    };
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    this.pending = merge(this.pending, this.accepted);
    this.accepted = new Map();
    try {
      this.counted = await countActiveTasksByTenant(this.pool);
      this.pending = new Map();
    } catch (err) {
      // The last count stays, with everything accepted since on top: it only errs high.
      this.logger.warn({ err: (err as Error).message }, 'could not count active tasks per tenant');
    } finally {
      this.refreshing = false;
    }
  }
}

function add(map: Map<string, number>, key: string, n: number): void {
  const next = (map.get(key) ?? 0) + n;
  if (next === 0) map.delete(key);
  else map.set(key, next);
}

function merge(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}
