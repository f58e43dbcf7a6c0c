import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool, buildConnector } from 'undici';

/**
 * One keep-alive connection pool to the target (undici), with exact wire byte counts: every socket the
 * pool opens is tracked, so "data sent / received" includes request lines, headers and bodies, like k6's.
 */
export interface HttpResult {
  /** 0 when no response arrived (see `error`). */
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  latencyUs: number;
  /** Network error or timeout kind: ECONNREFUSED, ECONNRESET, timeout, aborted, ... */
  error?: string;
}

export interface SendOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class HttpClient {
  private readonly pool: Pool;
  private readonly live = new Set<Socket>();
  private closedSent = 0;
  private closedReceived = 0;

  constructor(
    readonly origin: string,
    connections: number,
  ) {
    const connector = buildConnector({});
    this.pool = new Pool(origin, {
      connections: Math.max(1, connections),
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: (opts, callback) =>
        connector(opts, (...args) => {
          const socket = args[1];
          if (socket) this.track(socket);
          callback(...args);
        }),
    });
  }

  /** Bytes written to / read from the wire so far, over every socket this client opened. */
  bytes(): { sent: number; received: number } {
    let sent = this.closedSent;
    let received = this.closedReceived;
    for (const s of this.live) {
      sent += s.bytesWritten;
      received += s.bytesRead;
    }
    return { sent, received };
  }

  async send(options: SendOptions): Promise<HttpResult> {
    const started = performance.now();
    try {
      const res = await this.pool.request({
        method: options.method as 'GET',
        path: options.path,
        headers: options.headers,
        body: options.body,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        signal: options.signal,
      });
      const body = await res.body.text();
      return {
        status: res.statusCode,
        body,
        headers: res.headers,
        latencyUs: (performance.now() - started) * 1000,
      };
    } catch (err) {
      return {
        status: 0,
        body: '',
        headers: {},
        latencyUs: (performance.now() - started) * 1000,
        error: errorKind(err),
      };
    }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }

  private track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closedSent += socket.bytesWritten;
      this.closedReceived += socket.bytesRead;
    });
  }
}

/** A short, stable name for a failed request, used as the "error kind" in reports. */
export function errorKind(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return 'timeout';
  if (code === 'UND_ERR_ABORTED' || e?.name === 'AbortError') return 'aborted';
  if (code === 'UND_ERR_SOCKET') return 'socket_closed';
  return code ?? e?.name ?? 'unknown_error';
}
