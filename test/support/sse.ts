import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body, for an answer that is not an event stream. */
  text: string;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ends the stream (or it is closed here). */
  ended: Promise<void>;
  /** Resolves with the first event (seen so far or later) that matches, or rejects after `timeoutMs`. */
  waitFor(match: (e: SseEvent, i: number) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** A real event-stream client over fetch: every event and comment, as they arrive. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  let text = '';
  let ended: Promise<void> = Promise.resolve();
  let done = false;
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream') && res.body) {
    const parser = createParser({
      onEvent: (e: EventSourceMessage) => {
        events.push({ id: e.id, event: e.event, data: e.data });
        notify();
      },
      onComment: (c) => {
        comments.push(c.trim());
        notify();
      },
    });
    const body = res.body;
    ended = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // Closed here.
      } finally {
        done = true;
        notify();
      }
    })();
  } else {
    text = await res.text();
    done = true;
  }
  return {
    status: res.status,
    headers: res.headers,
    text,
    events,
    comments,
    ended,
    close: () => controller.abort(),
    waitFor: (match, timeoutMs = 10000) =>
      new Promise<SseEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found) finish(() => resolve(found));
          else if (done) finish(() => reject(new Error('stream ended before the event came')));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no such event within ${timeoutMs} ms`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
  };
}
