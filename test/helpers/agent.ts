import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { type AgentConfig, type AgentConfigInput, AgentConfigSchema } from '../../agent/index.js';
import {
  decodeMessage,
  type EventEnvelope,
  type UplinkBatch,
  UplinkBatchSchema,
} from '../../shared/index.js';

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

/** A CONNECT packet as a test broker saw it. */
export interface SeenConnect {
  clientId: string;
  clean: boolean;
  protocolVersion: number;
  keepalive: number;
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos: number; retain: boolean };
}

/**
 * A bare aedes broker on a free port with a tiny in-test ack responder, for tests of the
 * agent alone (the hub has its own). It records every CONNECT and publish, stores uplink
 * events per `epoch/lane` once each (by seq, in order) and, while `acking`, answers each
 * batch with a cumulative ack like the hub's.
 */
export class TestBroker {
  readonly broker: Aedes;
  readonly server: Server;
  url = '';
  acking = true;
  readonly connects: SeenConnect[] = [];
  readonly publishes: Array<{ topic: string; payload: Buffer; retain: boolean; clientId: string | null }> =
    [];
  readonly batches: UplinkBatch[] = [];
  /** Reasons of uplink payloads that failed UplinkBatchSchema (should stay empty). */
  readonly invalidBatches: string[] = [];
  /** Events stored per `${epoch}/${lane}`. */
  readonly stored = new Map<string, EventEnvelope[]>();
  readonly #sockets = new Set<Socket>();

  private constructor(broker: Aedes) {
    this.broker = broker;
    this.server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      broker.handle(socket);
    });
    broker.preConnect = (_client, packet, done) => {
      const p = packet as unknown as SeenConnect & { password?: Buffer; will?: { payload: Buffer } };
      this.connects.push({
        clientId: p.clientId,
        clean: p.clean,
        protocolVersion: p.protocolVersion,
        keepalive: p.keepalive,
        username: p.username,
        password: p.password?.toString(),
        will: p.will && { ...p.will, payload: Buffer.from(p.will.payload).toString() },
      });
      done(null, true);
    };
    broker.on('publish', (packet, client) => {
      if (packet.topic.startsWith('$SYS')) return;
      const payload = Buffer.from(packet.payload);
      this.publishes.push({
        topic: packet.topic,
        payload,
        retain: packet.retain,
        clientId: client?.id ?? null,
      });
      if (client && packet.topic.endsWith('/up')) this.#onUp(packet.topic, payload);
      if (client && packet.topic.endsWith('/ping')) this.#onPing(packet.topic, payload);
    });
  }

  static async start(): Promise<TestBroker> {
    const tb = new TestBroker(await Aedes.createBroker());
    await new Promise<void>((resolve) => tb.server.listen(0, '127.0.0.1', resolve));
    tb.url = `mqtt://127.0.0.1:${(tb.server.address() as AddressInfo).port}`;
    return tb;
  }

  /** Decoded payloads published on `topic` (by clients or the broker itself, e.g. wills). */
  messages<T>(topic: string): T[] {
    return this.publishes.filter((p) => p.topic === topic).map((p) => JSON.parse(p.payload.toString()) as T);
  }

  /** Events stored for one epoch and lane. */
  events(epoch: string, lane: string): EventEnvelope[] {
    return this.stored.get(`${epoch}/${lane}`) ?? [];
  }

  /** Publishes from the "hub" side. */
  publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    return new Promise((resolve, reject) =>
      this.broker.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Answers an application-level ping like the hub. */
  #onPing(topic: string, payload: Buffer): void {
    const ping = JSON.parse(payload.toString()) as { id: string };
    void this.publish(
      topic.replace(/\/ping$/, '/ack'),
      JSON.stringify({ v: 1, pong: ping.id, at: Date.now() }),
    );
  }

  #onUp(topic: string, payload: Buffer): void {
    const decoded = decodeMessage(UplinkBatchSchema, payload);
    if (!decoded.ok) {
      this.invalidBatches.push(decoded.reason);
      return;
    }
    const batch = decoded.value;
    this.batches.push(batch);
    if (!this.acking) return;
    const key = `${batch.epoch}/${batch.lane}`;
    const list = this.stored.get(key) ?? [];
    this.stored.set(key, list);
    let stored = 0;
    let duplicates = 0;
    for (const event of batch.events) {
      const hwm = list.length > 0 ? (list[list.length - 1] as EventEnvelope).seq : 0;
      if (event.seq <= hwm) duplicates += 1;
      else if (event.seq === hwm + 1) {
        list.push(event);
        stored += 1;
      }
    }
    const hwm = list.length > 0 ? (list[list.length - 1] as EventEnvelope).seq : 0;
    const ack = {
      v: 1,
      epoch: batch.epoch,
      lane: batch.lane,
      hwm,
      batchId: batch.batchId,
      stored,
      duplicates,
    };
    void this.publish(topic.replace(/\/up$/, '/ack'), JSON.stringify(ack));
  }
}
