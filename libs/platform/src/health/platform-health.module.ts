import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { RedisHealthIndicator } from './redis.health';

/**
 * Terminus as every app uses it: readiness turns 503 the moment a shutdown starts and stays so
 * for SHUTDOWN_GRACE_MS (load balancers stop sending) before the app closes; failures are
 * logged as JSON. Exports the shared indicators next to Terminus's own.
 */
@Module({
  imports: [
    TerminusModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        gracefulShutdownTimeoutMs: config.get('SHUTDOWN_GRACE_MS'),
        errorLogStyle: 'json',
      }),
    }),
  ],
  providers: [RedisHealthIndicator],
  exports: [TerminusModule, RedisHealthIndicator],
})
export class PlatformHealthModule {}
