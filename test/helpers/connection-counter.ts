/**
 * A TCP relay on 127.0.0.1 that counts the connections passing through it. Tests point the
 * dataset API URL at it and the auth URL straight at the sandbox, because the two are separate
 * hosts in production. Its peak then counts dataset-API connections only, while the sandbox's
 * own `peakConnections` also counts the connection of the token requests.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class ConnectionCounter {
  openConnections = 0;
  peakConnections = 0;
  totalConnections = 0;

  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a relay to `targetUrl` (an `http://127.0.0.1:<port>` origin). */
  static async start(targetUrl: string): Promise<ConnectionCounter> {
    const target = new URL(targetUrl);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const counter = new ConnectionCounter(server, `http://127.0.0.1:${port}`);

    server.on('connection', (client) => counter.relay(client, target.hostname, Number(target.port)));
    return counter;
  }

  /** Destroys every relayed connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, host: string, port: number): void {
    this.openConnections += 1;
    this.totalConnections += 1;
    this.peakConnections = Math.max(this.peakConnections, this.openConnections);

    const upstream = connect(port, host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);

    // A client close aborts the sandbox's side at once, so the sandbox records client aborts as
    // it does without the relay. A sandbox close ends the client's side after the data already relayed.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.destroy();
      this.sockets.delete(client);
      this.openConnections -= 1;
    });
    upstream.on('close', () => {
      client.end();
      this.sockets.delete(upstream);
    });
  }
}
