import { Module } from '@nestjs/common';
import { LimiterStorage } from './limiter.storage';

/** Separate so ThrottlerModule.forRootAsync can import the storage it is configured with. */
@Module({
  providers: [LimiterStorage],
  exports: [LimiterStorage],
})
export class LimiterStorageModule {}
