import { answerReadiness, AppConfig, RedisHealthIndicator, TASK_QUEUE } from '@app/platform';
import { Controller, Get, Res } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { BreakerHealthIndicator } from '../breaker/breaker.health';
import { WorkerLifecycle } from '../lifecycle/worker-lifecycle.service';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly breakers: BreakerHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: WorkerLifecycle,
    private readonly config: AppConfig,
  ) {}

  /**
   * Readiness: the worker can take jobs (database and queue reachable, not shutting down), each
   * check with its own timeout. The LLM breaker is reported but never fails readiness.
   */
  @Get('ready')
  @HealthCheck()
  ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    const timeout = this.config.get('HEALTH_CHECK_TIMEOUT_MS');
    return answerReadiness(reply, () =>
      this.health.check([
        () => this.db.pingCheck('database', { timeout }),
        () => {
          const queue = this.lifecycle.queue(TASK_QUEUE);
          if (queue) return this.redis.pingCheck('redis', queue.client, timeout);
          return this.indicators.check('redis').down({ reason: 'the task queue is not started yet' });
        },
        () => this.breakers.check('llm'),
        () => {
          const worker = this.indicators.check('worker');
          return this.lifecycle.draining ? worker.down({ draining: true }) : worker.up({ draining: false });
        },
      ]),
    );
  }
}
