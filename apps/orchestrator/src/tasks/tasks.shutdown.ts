import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TaskEventsListener } from './task-events.listener';
import { TaskQueueService } from './task-queue.service';

/**
 * The tasks feature's part of a graceful shutdown, on Fastify's close. After SHUTDOWN_GRACE_MS
 * Fastify stops accepting and waits for in-flight requests. Long-polls could hold it for
 * LONG_POLL_MAX_WAIT_S: wake them so they answer with the task's current state now (the client
 * simply polls again, elsewhere). Once in-flight requests are done no new job add can start: wait
 * for the ones started after their responses, before the queue's connection closes
 * (onApplicationShutdown).
 */
export function installTaskShutdownHooks(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const events = app.get(TaskEventsListener);
  fastify.addHook('preClose', (done) => {
    events.drain();
    done();
  });
  const queue = app.get(TaskQueueService);
  fastify.addHook('onClose', async () => queue.settled());
}
