import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool, buildConnector } from 'undici';

/**
 * One keep-alive pool to the target (undici) with exact wire byte counts: every socket it opens is
 * tracked, so "data sent / received" includes request lines, headers and bodies, as k6 counts them.
 */
export interface HttpResult {
  /** 0 when no answer arrived (see `error`). */
  status: number;
  body: string;
  latencyUs: number;
  /** Network error or timeout kind: ECONNREFUSED, ECONNRESET, timeout, aborted... */
  error?: string;
}

export interface SendOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | null;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class HttpClient {
  private readonly pool: Pool;
  private readonly live = new Set<Socket>();
  private closed = { sent: 0, received: 0 };

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
          if (args[1]) this.track(args[1]);
          callback(...args);
        }),
    });
  }

  /** Bytes written to / read from the wire so far, over every socket this client opened. */
  bytes(): { sent: number; received: number } {
    const total = { ...this.closed };
    for (const s of this.live) {
      total.sent += s.bytesWritten;
      total.received += s.bytesRead;
    }
    return total;
  }

  async send(o: SendOptions): Promise<HttpResult> {
    const started = performance.now();
    const latencyUs = (): number => (performance.now() - started) * 1000;
    try {
      const res = await this.pool.request({
        method: o.method as 'GET',
        path: o.path,
        headers: o.headers,
        body: o.body ?? undefined,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        signal: o.signal,
      });
      const body = await res.body.text();
      return { status: res.statusCode, body, latencyUs: latencyUs() };
    } catch (err) {
      return { status: 0, body: '', latencyUs: latencyUs(), error: errorKind(err) };
    }
  }

  async destroy(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }

  private track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closed.sent += socket.bytesWritten;
      this.closed.received += socket.bytesRead;
    });
  }
}

/** A short, stable name for a failed request: the "error kind" of reports. */
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
