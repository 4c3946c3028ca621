import { type AddressInfo, createServer, type Server, Socket } from 'node:net';

/**
 * The demo's network cable: a TCP relay between one agent and the hub's
 * broker that the demo can pull out and plug back in. While `offline`, open connections are
 * reset and new ones refused, exactly what a dropped uplink looks like to both ends.
 */
export class DemoCable {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #target: { host: string; port: number };
  #offline = false;

  private constructor(target: string) {
    const url = new URL(target);
    this.#target = { host: url.hostname, port: Number(url.port) };
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts a relay to `target` (`mqtt://host:port`) on a free loopback port. */
  static async start(target: string): Promise<DemoCable> {
    const cable = new DemoCable(target);
    await new Promise<void>((resolve) => cable.#server.listen(0, '127.0.0.1', resolve));
    return cable;
  }

  /** The relay's `mqtt://127.0.0.1:PORT`, for the agent. */
  get url(): string {
    return `mqtt://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Pulls the cable: resets every connection and refuses new ones until {@link plugIn}. */
  unplug(): void {
    this.#offline = true;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  /** Plugs it back in: new connections go through again. */
  plugIn(): void {
    this.#offline = false;
  }

  async close(): Promise<void> {
    this.unplug();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#offline) {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.connect(this.#target.port, this.#target.host);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
