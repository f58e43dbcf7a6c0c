import { AppConfig } from '@app/platform';
import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApiKeyCache } from './auth/api-key.cache';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeyRegistry } from './auth/api-key.registry';
import { LimiterStorageModule } from './rate-limit/limiter-storage.module';
import { LimiterStorage } from './rate-limit/limiter.storage';
import { ApiThrottlerGuard } from './rate-limit/api-throttler.guard';
import { throttlersFor } from './rate-limit/rate-limit.tiers';
import { LoadShedder } from './shedding/load-shedder';

/**
 * What stands between a request and the API, in the order it is met:
 * 1. LoadShedder (Fastify onRequest): 503 when MAX_IN_FLIGHT requests are in flight.
 * 2. Helmet headers, CORS (configureHttpEdge, http/).
 * 3. ApiKeyGuard: 401/403, sets request.principal.
 * 4. ApiThrottlerGuard: 429 per client (key name or IP), counters in Redis.
 * Guards run in the order they are listed here.
 */
@Global()
@Module({
  imports: [
    LimiterStorageModule,
    ThrottlerModule.forRootAsync({
      imports: [LimiterStorageModule],
      inject: [AppConfig, LimiterStorage],
      useFactory: (config: AppConfig, storage: LimiterStorage) => ({
        storage,
        throttlers: throttlersFor(config.get('RATE_LIMIT_TIERS')),
      }),
    }),
  ],
  providers: [
    ApiKeyCache,
    ApiKeyRegistry,
    LoadShedder,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_GUARD, useClass: ApiThrottlerGuard },
  ],
  exports: [ApiKeyCache, ApiKeyRegistry, LoadShedder, LimiterStorageModule],
})
export class ProtectionModule {}
