import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a shared server (Postgres, Redis) that a test can cut and restore,
 * so readiness can be tested against an unreachable dependency without stopping the machine's
 * shared servers. It listens on a free port chosen by the OS.
 * - `refuse()`: drops every open connection and resets new ones at once (a crashed server);
 * - `blackhole()`: keeps accepting but forwards nothing and answers nothing (a partition);
 * - `restore()`: forwards again. Connections held by a blackhole are reset then (as a healed
 *   partition's stale connections eventually are), so clients reconnect.
 */
export class TcpProxy {
  private server: Server | null = null;
  private mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async to(hostPort: string): Promise<TcpProxy> {
    const [host, port] = hostPort.split(':');
    const proxy = new TcpProxy(host, Number(port));
    await proxy.start();
    return proxy;
  }

  /** `host:port` to put in a URL instead of the real server's. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  refuse(): void {
    this.mode = 'refuse';
    this.dropAll();
  }

  blackhole(): void {
    this.mode = 'blackhole';
    this.dropAll();
  }

  restore(): void {
    if (this.mode === 'blackhole') this.dropAll();
    this.mode = 'forward';
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  private async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private accept(client: Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') return; // held open, never answered
    const upstream = connect(this.targetPort, this.targetHost);
    this.track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
