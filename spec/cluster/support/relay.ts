import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a real server (PostgreSQL, Redis), on a port of its own: `stop()` is the
 * server gone for the connections made through it only (others share the server), every connection cut at
 * once and new ones refused; `start()` again listens on the same port: the server is back.
 */
export class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  /** @param target The real server's URL (its host and port are used). */
  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const { hostname, port } = new URL(this.target);
    const server = createServer((client) => {
      const upstream = connect(Number(port), hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise((resolve) => server.close(resolve));
  }

  /** The target's URL with the relay's host and port in its place (user, path and query kept). */
  get url(): string {
    const url = new URL(this.target);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}
