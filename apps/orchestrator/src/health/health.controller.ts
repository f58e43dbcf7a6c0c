import { answerReadiness, AppConfig, Public, RedisHealthIndicator, TASK_QUEUE } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import type { Queue } from 'bull';
import type { FastifyReply } from 'fastify';
import { LoadHealthIndicator } from '../protection/shedding/load.health';
import { RateLimiterHealthIndicator } from '../protection/rate-limit/rate-limiter.health';

@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue,
    private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiterHealthIndicator,
    private readonly load: LoadHealthIndicator,
  ) {}

  /**
   * Readiness: 503 while Postgres is unreachable (no request can be served) and from the start of
   * a shutdown. Redis is shown (`redis: {status: 'down', ...}` while unreachable) but never fails
   * readiness: without it tasks are still stored and accepted (the reconciler queues them once it
   * is back), reads work and the limiter fails open, so pulling every replica out of its Service
   * would turn a Redis outage into an API outage. `rate_limiter` and `load` are details too: a
   * blind limiter fails open (degraded) and a busy replica sheds, it is not broken.
   */
  @Get('ready')
  @HealthCheck()
  ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    const timeout = this.config.get('HEALTH_CHECK_TIMEOUT_MS');
    return answerReadiness(
      reply,
      () =>
        this.health.check([
          () => this.db.pingCheck('database', { timeout }),
          () => this.rateLimiter.check('rate_limiter', this.config.get('RATE_LIMIT_ENABLED'), timeout),
          () => this.load.check('load'),
        ]),
      [() => this.redis.pingCheck('redis', this.queue.client, timeout)],
    );
  }
}
