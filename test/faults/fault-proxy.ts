import { createServer, type Server, Socket } from 'node:net';
import { Flow, type FlowCounters, type FlowMode } from './flow.js';

export type { FlowMode } from './flow.js';

/** `up`: client → target (agent → broker); `down`: target → client (broker → agent). */
export type Direction = 'up' | 'down';
/** One direction or both. */
export type Directions = Direction | 'both';

/** Counters of a {@link FaultProxy} since it started. */
export interface FaultProxyStats {
  /** Connections forwarded to the target. */
  accepted: number;
  /** Connections reset at once (no target, or `refuse` on). */
  refused: number;
  /** Connections reset by `cut()` (a flap's cuts included). */
  cutConnections: number;
  /** Down phases of flaps so far. */
  flaps: number;
  bytes: Record<Direction, FlowCounters>;
}

/** Schedule of {@link FaultProxy.flap}. */
export interface FlapOptions {
  /** How long each down phase lasts, ms (a function to vary it, e.g. from a seeded PRNG). */
  downMs: number | (() => number);
  /** How long each up phase lasts, ms. */
  upMs: number | (() => number);
  /**
   * What a down phase does: `cut` resets every connection and refuses new ones (default);
   * `blackhole` silently swallows both directions of every connection, old and new.
   */
  how?: 'cut' | 'blackhole';
}

interface Pair {
  client: Socket;
  upstream: Socket;
  flows: Record<Direction, Flow>;
}

const PASS: FlowMode = { kind: 'pass' };

function directions(which: Directions): Direction[] {
  return which === 'both' ? ['up', 'down'] : [which];
}

function duration(value: number | (() => number)): number {
  return Math.max(1, typeof value === 'function' ? value() : value);
}

/**
 * A TCP fault proxy for the fault-injection suite (docs/architecture.md "Testing"):
 * listens on a free loopback port and forwards each connection to the target, and on
 * command cuts (RST both sides), stalls, blackholes (no FIN, no RST), throttles or flaps
 * the traffic, per direction where that means something. Modes apply to open connections
 * and to new ones alike until {@link heal} (a blackholed direction of an open connection
 * stays dead: see {@link FlowMode}).
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #modes: Record<Direction, FlowMode> = { up: PASS, down: PASS };
  readonly #stats: FaultProxyStats = {
    accepted: 0,
    refused: 0,
    cutConnections: 0,
    flaps: 0,
    bytes: { up: { forwarded: 0, dropped: 0 }, down: { forwarded: 0, dropped: 0 } },
  };
  #target: { host: string; port: number } | undefined;
  #refusing = false;
  #flapTimer: NodeJS.Timeout | undefined;
  #port = 0;

  /** A proxy with no target yet (it refuses everything); {@link listen} opens its port. */
  constructor() {
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on a free loopback port; resolves with its `mqtt://127.0.0.1:PORT` URL. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.#server.address();
    if (typeof address !== 'object' || address === null) throw new Error('fault proxy has no port');
    this.#port = address.port;
    return this.url;
  }

  /**
   * Starts a proxy on 127.0.0.1 (a free port) forwarding to `target`
   * (`mqtt://host:port`, `tcp://host:port` or `{host, port}`); no target refuses everything.
   */
  static async start(target?: string | { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy();
    proxy.setTarget(target);
    await proxy.listen();
    return proxy;
  }

  /** The proxy's port on 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** `mqtt://127.0.0.1:PORT`, for an MQTT client. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.#port}`;
  }

  /** Open connections (each a client side and a target side). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** A copy of the counters. */
  stats(): FaultProxyStats {
    return structuredClone(this.#stats);
  }

  /** New connections go to `target` (open ones keep theirs); undefined refuses them. */
  setTarget(target: string | { host: string; port: number } | undefined): void {
    if (target === undefined || typeof target === 'object') {
      this.#target = target;
      return;
    }
    const url = new URL(target);
    if (url.port === '') throw new Error(`fault proxy target needs a port: ${target}`);
    this.#target = { host: url.hostname, port: Number(url.port) };
  }

  /** While on, new connections are reset at once (the target looks down); open ones live on. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** Resets (RST) both sides of every open connection. Returns how many were cut. */
  cut(): number {
    const n = this.#pairs.size;
    for (const pair of [...this.#pairs]) this.#destroy(pair, true);
    this.#stats.cutConnections += n;
    return n;
  }

  /** Stops forwarding `which` direction(s); sockets stay open; held bytes flow on `heal()`. */
  stall(which: Directions = 'both'): void {
    this.#setMode(which, { kind: 'stall' });
  }

  /** Silently discards `which` direction(s): no byte, no FIN, no RST (sticky per connection). */
  blackhole(which: Directions = 'both'): void {
    this.#setMode(which, { kind: 'blackhole' });
  }

  /** Limits `which` direction(s) to `bytesPerS` bytes per second (≥ 1). */
  throttle(bytesPerS: number, which: Directions = 'both'): void {
    if (!(bytesPerS >= 1)) throw new RangeError(`throttle needs bytesPerS >= 1, got ${bytesPerS}`);
    this.#setMode(which, { kind: 'throttle', bytesPerS });
  }

  /**
   * Alternates down and up phases until {@link heal} or {@link close}, starting with a down
   * phase now. See {@link FlapOptions}.
   */
  flap(options: FlapOptions): void {
    this.#stopFlap();
    const how = options.how ?? 'cut';
    const down = () => {
      this.#stats.flaps += 1;
      if (how === 'cut') {
        this.refuse(true);
        this.cut();
      } else {
        this.blackhole('both');
      }
      this.#flapTimer = setTimeout(up, duration(options.downMs));
    };
    const up = () => {
      this.refuse(false);
      this.#setMode('both', PASS);
      this.#flapTimer = setTimeout(down, duration(options.upMs));
    };
    down();
  }

  /**
   * Ends every fault: stops a flap, accepts new connections, forwards both directions at
   * full speed (stalled bytes flow on; blackholed connections stay dead until closed).
   */
  heal(): void {
    this.#stopFlap();
    this.refuse(false);
    this.#setMode('both', PASS);
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    this.#stopFlap();
    for (const pair of [...this.#pairs]) this.#destroy(pair, false);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #stopFlap(): void {
    if (this.#flapTimer) clearTimeout(this.#flapTimer);
    this.#flapTimer = undefined;
  }

  #setMode(which: Directions, mode: FlowMode): void {
    for (const dir of directions(which)) {
      this.#modes[dir] = mode;
      for (const pair of this.#pairs) pair.flows[dir].setMode(mode);
    }
  }

  #accept(client: Socket): void {
    client.on('error', () => {});
    const target = this.#target;
    if (target === undefined || this.#refusing) {
      this.#stats.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.#stats.accepted += 1;
    const upstream = new Socket();
    upstream.on('error', () => {});
    // Transparent in pass mode: no Nagle delay of the proxy's own (the ends keep theirs).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = {
      client,
      upstream,
      flows: {
        up: new Flow(client, upstream, this.#stats.bytes.up),
        down: new Flow(upstream, client, this.#stats.bytes.down),
      },
    };
    this.#pairs.add(pair);
    pair.flows.up.setMode(this.#modes.up);
    pair.flows.down.setMode(this.#modes.down);
    // An abrupt close (RST, error, destroy) crosses to the other side at once, unless that
    // direction is blackholed: a partition carries no RST either.
    client.on('close', (hadError) => this.#onClose(pair, 'up', hadError));
    upstream.on('close', (hadError) => this.#onClose(pair, 'down', hadError));
    upstream.connect(target.port, target.host);
  }

  /**
   * The source of `dir` closed (`up`: the client's socket, `down`: the target's). A clean end
   * (FIN) is passed on by the Flow after the bytes it still holds; an abrupt one here.
   */
  #onClose(pair: Pair, dir: Direction, hadError: boolean): void {
    const other = dir === 'up' ? pair.upstream : pair.client;
    if (hadError && !pair.flows[dir].blackholed && !other.destroyed) other.resetAndDestroy();
    if (other.destroyed) this.#forget(pair);
  }

  #destroy(pair: Pair, reset: boolean): void {
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.#forget(pair);
  }

  #forget(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.flows.up.dispose();
    pair.flows.down.dispose();
  }
}
