import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import type { AppEnv } from './env.schema';
import { loadConfig } from './load-config';

@Global()
@Module({})
export class PlatformConfigModule {
  /** Validates the environment once at boot; a bad variable stops the process with a message naming it. */
  static forRoot(env?: AppEnv): DynamicModule {
    return {
      module: PlatformConfigModule,
      providers: [{ provide: AppConfig, useFactory: () => new AppConfig(env ?? loadConfig()) }],
      exports: [AppConfig],
    };
  }
}
