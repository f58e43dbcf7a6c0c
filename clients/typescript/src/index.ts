export * from './client';
export * from './errors';
export { retryAfterMs, type RetryPolicy } from './retry';
export type { components, operations, paths } from './schema';
