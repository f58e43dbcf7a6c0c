import { answerReadiness, AppConfig, RedisHealthIndicator, TASK_QUEUE } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Controller, Get, Res } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { Queue } from 'bull';
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
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue,
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
        () => this.redis.pingCheck('redis', this.queue.client, timeout),
        () => this.breakers.check('llm'),
        () => {
          const worker = this.indicators.check('worker');
          return this.lifecycle.draining ? worker.down({ draining: true }) : worker.up({ draining: false });
        },
      ]),
    );
  }
}
