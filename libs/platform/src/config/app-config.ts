import { Injectable } from '@nestjs/common';
import type { AppEnv } from './env.schema';

/** Typed, read-only access to the validated environment. Features inject this instead of reading process.env. */
@Injectable()
export class AppConfig {
  constructor(readonly values: AppEnv) {}

  get<K extends keyof AppEnv>(key: K): AppEnv[K] {
    return this.values[key];
  }

  get isProduction(): boolean {
    return this.values.NODE_ENV === 'production';
  }
}
