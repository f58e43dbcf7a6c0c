export * from './client';
export * from './errors';
export type { TaskEvent, TaskEventsOptions } from './events';
export { retryAfterMs, type RetryPolicy } from './retry';
export type { components, operations, paths } from './schema';
