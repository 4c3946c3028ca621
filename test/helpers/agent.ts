import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type AgentConfig, type AgentConfigInput, AgentConfigSchema } from '../../agent/index.js';

/** A logger that writes nothing (set OUTPOST_TEST_LOG=debug to see the agent's logs). */
export function testLogger() {
  return pino({ level: process.env.OUTPOST_TEST_LOG ?? 'silent' });
}

/** A fresh temp directory; removed by the returned `remove()`. */
export function tempDir(prefix = 'outpost-agent-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** An agent config for tests: API on a free loopback port, fast reconnects and ack timeouts. */
export function agentTestConfig(
  input: Pick<AgentConfigInput, 'deviceId' | 'deviceSecret' | 'dataDir'> & Partial<AgentConfigInput>,
): AgentConfig {
  return AgentConfigSchema.parse({
    api: { port: 0 },
    link: { reconnectMinMs: 20, reconnectMaxMs: 200, keepaliveS: 5, connectTimeoutMs: 2000 },
    outbox: { ackTimeoutMs: 1000 },
    logLevel: 'silent',
    ...input,
  });
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or fails after
 * `timeoutMs` (generous by default: conditions, not timings, are what tests assert).
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A TCP proxy for fault tests: listens on a free loopback port and forwards to `target`.
 * With no target (or while `refuse` is on) it drops incoming connections at once, so a
 * client sees the "hub" as down. `cut()` resets every open connection without a clean close.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: { host: string; port: number } | undefined;
  #refuse = false;
  port = 0;

  constructor() {
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts listening; resolves with the proxy's `mqtt://127.0.0.1:PORT` URL. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
    this.port = address.port;
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Forwards new connections to `url` (`mqtt://host:port`); undefined = drop them. */
  setTarget(url: string | undefined): void {
    if (url === undefined) {
      this.#target = undefined;
      return;
    }
    const parsed = new URL(url);
    this.#target = { host: parsed.hostname, port: Number(parsed.port) };
  }

  /** While on, new connections are dropped at once. */
  refuse(on: boolean): void {
    this.#refuse = on;
  }

  /** Resets (RST) every open connection, both sides. */
  cut(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  /** Open connections (client and upstream sides). */
  get connections(): number {
    return this.#sockets.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const target = this.#target;
    if (!target || this.#refuse) {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    this.#track(client);
    this.#track(upstream);
    upstream.connect(target.port, target.host);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.#sockets.delete(socket));
  }
}
