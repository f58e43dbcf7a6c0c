import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { AgentPlatformError } from './errors';
import type { components } from './schema';

type Task = components['schemas']['TaskDto'];

/** One event of GET /v1/tasks/{id}/events: a status change (the task as GET returns it) or a delta of the model's output. */
export type TaskEvent =
  | { id: string; event: 'status'; data: Task }
  | { id: string; event: 'delta'; data: { field: 'hook' | 'body'; text: string; offset: number } };

export interface TaskEventsOptions {
  /** Resume after this event id (what the last event seen carried): no event is repeated. */
  lastEventId?: string;
  /** Stops the stream (the iteration then ends). */
  signal?: AbortSignal;
}

/**
 * Reads a task's server-sent events until the server ends the stream (after the terminal status),
 * as an async iterator. A non-2xx answer (404, 503 with the waiter budget full) throws an
 * AgentPlatformError before any event.
 */
export async function* readTaskEvents(
  fetchFn: (request: Request) => Promise<Response>,
  url: string,
  headers: Record<string, string>,
  opts: TaskEventsOptions = {},
): AsyncGenerator<TaskEvent> {
  const response = await fetchFn(
    new Request(url, {
      headers: {
        ...headers,
        Accept: 'text/event-stream',
        ...(opts.lastEventId ? { 'Last-Event-ID': opts.lastEventId } : {}),
      },
      signal: opts.signal,
    }),
  );
  if (!response.ok || !response.body) {
    const body: unknown = await response.json().catch(() => undefined);
    throw new AgentPlatformError(response, body);
  }
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => pending.push(message) });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((err: unknown) => {
        if (opts.signal?.aborted) return { done: true, value: undefined };
        throw err;
      });
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      while (pending.length > 0) {
        const message = pending.shift() as EventSourceMessage;
        if (message.event !== 'status' && message.event !== 'delta') continue;
        yield { id: message.id ?? '', event: message.event, data: JSON.parse(message.data) } as TaskEvent;
      }
    }
  } finally {
    reader.releaseLock();
    await response.body.cancel().catch(() => undefined);
  }
}
