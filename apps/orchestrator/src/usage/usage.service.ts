import { taskUsage, TASK_STATUSES } from '@app/db';
import { ApiError } from '@app/platform';
import { Injectable } from '@nestjs/common';
import { Pool } from 'pg';
import { ZERO_COUNTS, type UsageDto, type UsageQuery } from './dto/usage.dto';

const DEFAULT_RANGE_MS = 30 * 86_400_000;
/** A wider range scans more of a tenant's tasks than an API call should. */
const MAX_RANGE_MS = 366 * 86_400_000;

@Injectable()
export class UsageService {
  constructor(private readonly pool: Pool) {}

  /** `tenant`: whose usage (null: every tenant together). */
  async usage(query: UsageQuery, tenant: string | null): Promise<UsageDto> {
    const to = query.to !== undefined ? new Date(query.to) : new Date();
    const from = query.from !== undefined ? new Date(query.from) : new Date(to.getTime() - DEFAULT_RANGE_MS);
    if (from.getTime() >= to.getTime()) {
      throw ApiError.validation([{ field: 'from', reason: 'from must be before to' }]);
    }
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) {
      throw ApiError.validation([{ field: 'from', reason: 'the range from..to must be at most 366 days' }]);
    }
    const usage = await taskUsage(this.pool, { tenant, from, to });
    const tasks = ZERO_COUNTS();
    for (const status of TASK_STATUSES) {
      tasks[status] = usage.tasksByStatus[status] ?? 0;
      tasks.total += tasks[status];
    }
    return {
      tenant,
      from: from.toISOString(),
      to: to.toISOString(),
      tasks,
      tokens: {
        total: usage.tokensByModel.reduce((sum, m) => sum + m.tokens, 0),
        by_model: usage.tokensByModel.map((m) => ({
          model: m.model,
          tasks: m.tasks,
          prompt_tokens: m.promptTokens,
          completion_tokens: m.completionTokens,
          tokens: m.tokens,
        })),
      },
    };
  }
}
