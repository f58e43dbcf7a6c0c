import { getTaskWithPost, isTerminal, taskJson, type TaskJson } from '@app/db';
import {
  ApiError,
  AppConfig,
  compareStreamIds,
  isStatusMessage,
  type TaskStreamMessage,
} from '@app/platform';
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { Pool } from 'pg';
import { TaskEventsListener } from './task-events.listener';
import { TaskQueueService } from './task-queue.service';

/** A Redis stream entry id, the only Last-Event-ID this server hands out. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** The id of the first status event of a fresh stream: before every entry of the replay stream. */
export const START_EVENT_ID = '0-0';

/**
 * Bytes a client may leave unread in its socket before it is cut off: a stalled client cannot
 * make this replica hold an unbounded backlog. It reconnects with Last-Event-ID and misses nothing
 * the replay stream still holds.
 */
const MAX_UNREAD_BYTES = 1 << 20;

/** The Last-Event-ID to resume after, or null for a fresh stream (an id this server never gave out counts as none). */
export function parseLastEventId(header: string | undefined): string | null {
  const id = header?.trim();
  return id && STREAM_ID.test(id) && id !== START_EVENT_ID ? id : null;
}

interface StreamSource {
  /** The task as GET shows it now; null when it is gone. */
  reread(): Promise<TaskJson | null>;
  /** The replay stream after an id (null: from its start). */
  replay(afterId: string | null): Promise<TaskStreamMessage<TaskJson>[]>;
  heartbeatMs: number;
  /** Called once when the stream ends, for whatever reason. */
  onEnd(): void;
}

/**
 * One client's event stream. Events go out in the replay stream's order, each with the id of the
 * entry it came from, so Last-Event-ID resumes exactly after the last one seen; a status read
 * from Postgres (the first one, and the heartbeat's re-read) carries the id of the last entry
 * sent. Status changes can arrive twice or late (live and replayed, or published out of order by
 * concurrent writers): only one newer than the last shown (by updated_at) goes out.
 */
class TaskEventStream {
  private shown: TaskJson | null = null;
  /** Live messages held back while the replay stream is read (at the start, or to fill a gap); null when live. */
  private held: (string | TaskStreamMessage<TaskJson>)[] | null = [];
  /** The run and seq of the last delta sent: a jump in seq means messages were missed. */
  private lastRun: string | null = null;
  private lastSeq = 0;
  private ended = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly out: PassThrough,
    res: ServerResponse,
    private cursor: string,
    private readonly source: StreamSource,
  ) {
    res.once('close', () => this.finish());
  }

  /** A message from the task's channel; none means the replica is draining. */
  receive(raw?: string): void {
    if (raw === undefined) return this.end();
    if (this.held) this.held.push(raw);
    else this.handle(raw);
  }

  async start(snapshot: TaskJson, resumed: boolean): Promise<void> {
    if (resumed && isTerminal(snapshot.status)) {
      // The deltas the client missed, then the end again: the terminal status (under the last id).
      this.held = null;
      for (const message of await this.source.replay(this.cursor).catch(() => [])) {
        if (!isStatusMessage(message)) this.handle(message);
        else if (compareStreamIds(message.id, this.cursor) > 0) this.cursor = message.id;
      }
      return this.status(snapshot, this.cursor);
    }
    this.status(snapshot, this.cursor);
    if (this.ended) return;
    await this.catchUp(resumed ? this.cursor : null);
    if (!this.ended) this.heartbeat = setInterval(() => void this.beat(), this.source.heartbeatMs);
  }

  /**
   * Sends what the replay stream holds after `afterId`, then the live messages held meanwhile. At the
   * start, and whenever messages may have been missed: a subscription that became active only after
   * the first read (a slow SUBSCRIBE), or pub/sub dropping messages while its connection was down.
   */
  private async catchUp(afterId: string | null): Promise<void> {
    this.held ??= [];
    try {
      for (const message of await this.source.replay(afterId)) this.handle(message);
    } catch {
      // Redis unreachable: live messages (if any) and the heartbeat's re-reads still come.
    }
    const held = this.held;
    this.held = null;
    for (const message of held) this.handle(message);
  }

  end(): void {
    if (this.ended) return;
    this.out.end();
    this.finish();
  }

  private handle(input: string | TaskStreamMessage<TaskJson>): void {
    if (this.ended) return;
    let message: TaskStreamMessage<TaskJson>;
    try {
      message = typeof input === 'string' ? (JSON.parse(input) as TaskStreamMessage<TaskJson>) : input;
    } catch {
      return;
    }
    if (typeof message.id !== 'string' || compareStreamIds(message.id, this.cursor) <= 0) return;
    if (isStatusMessage(message)) {
      this.cursor = message.id;
      return this.status(message.task, message.id);
    }
    if (this.held === null && message.run === this.lastRun && message.seq > this.lastSeq + 1) {
      // A gap: read the missed messages from the replay stream first (this one comes again with them).
      this.held = [message];
      void this.catchUp(this.cursor);
      return;
    }
    this.cursor = message.id;
    this.lastRun = message.run;
    this.lastSeq = message.seq;
    this.send('delta', message.id, { field: message.field, text: message.text, offset: message.offset });
  }

  private status(task: TaskJson, id: string): void {
    if (this.shown && Date.parse(task.updated_at) <= Date.parse(this.shown.updated_at)) return;
    this.shown = task;
    this.send('status', id, task);
    if (isTerminal(task.status)) this.end();
  }

  private send(event: 'status' | 'delta', id: string, data: unknown): void {
    if (this.ended) return;
    this.out.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (this.out.writableLength > MAX_UNREAD_BYTES) this.end();
  }

  /**
   * A comment that keeps proxies and clients from timing out; then what the replay stream holds
   * beyond the last id sent, and a re-read of the task, in case a message was lost.
   */
  private async beat(): Promise<void> {
    if (this.ended) return;
    this.out.write(': heartbeat\n\n');
    if (this.held === null) await this.catchUp(this.cursor);
    try {
      const task = await this.source.reread();
      if (!task) return this.end();
      this.status(task, this.cursor);
    } catch {
      // Postgres busy or away: the next beat tries again.
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.source.onEnd();
  }
}

/**
 * GET /v1/tasks/:id/events: the task's status changes and the model's deltas as server-sent
 * events, relayed from the task's Redis channel (one shared subscriber per replica,
 * TaskEventsListener) and its capped replay stream. The stream holds no database connection while
 * it waits: one read at the start and one per heartbeat.
 */
@Injectable()
export class TaskEventStreams {
  private readonly logger = new Logger(TaskEventStreams.name);

  constructor(
    private readonly pool: Pool,
    private readonly events: TaskEventsListener,
    private readonly queue: TaskQueueService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Serves the task's events on `reply` and resolves when the stream has ended: after the
   * terminal status, when the client goes away, or when the replica drains. Throws (404) before
   * anything is written when there is no such task in `tenant` (null: any tenant), exactly as for
   * a task that does not exist.
   */
  async serve(
    id: string,
    tenant: string | null,
    lastEventId: string | null,
    reply: FastifyReply,
  ): Promise<void> {
    let stream: TaskEventStream | null = null;
    const early: string[] = [];
    // Subscribed before the first read, so no change between the read and the subscription is lost.
    const unfollow = await this.events.follow(id, (raw) => {
      if (stream) stream.receive(raw);
      else if (raw !== undefined) early.push(raw);
    });
    let snapshot: TaskJson | null;
    try {
      snapshot = await this.read(id, tenant);
    } catch (err) {
      unfollow();
      throw err;
    }
    if (!snapshot) {
      unfollow();
      throw ApiError.notFound('Task', id);
    }

    // Sent through Fastify (not hijacked), so the app's response hooks add their headers (request
    // id, security headers) as for any response.
    const out = new PassThrough();
    void reply
      .code(200)
      .headers({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
        // The connection ends with the stream: a stream that ended while the server was closing
        // must not leave a keep-alive connection behind it, and a client reconnects anyway.
        connection: 'close',
      })
      .send(out);
    return new Promise<void>((resolve) => {
      const opened = new TaskEventStream(out, reply.raw, lastEventId ?? START_EVENT_ID, {
        reread: () => this.read(id, tenant),
        replay: (afterId) => this.queue.replay(id, afterId),
        heartbeatMs: this.config.get('TASK_EVENTS_HEARTBEAT_MS'),
        onEnd: () => {
          unfollow();
          resolve();
        },
      });
      stream = opened;
      for (const raw of early) opened.receive(raw);
      opened.start(snapshot, lastEventId !== null).then(
        () => {
          if (this.events.isDraining) opened.end();
        },
        (err: unknown) => {
          this.logger.warn({ taskId: id, err: String(err) }, 'task event stream failed');
          opened.end();
        },
      );
    });
  }

  private async read(id: string, tenant: string | null): Promise<TaskJson | null> {
    const found = await getTaskWithPost(this.pool, { id, tenant });
    return found ? taskJson(found.task, found.post) : null;
  }
}
