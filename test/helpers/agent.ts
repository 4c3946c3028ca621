import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { type AgentConfig, type AgentConfigInput, AgentConfigSchema } from '../../agent/index.js';
import {
  decodeMessage,
  type EventEnvelope,
  type UplinkBatch,
  UplinkBatchSchema,
} from '../../shared/index.js';

// One fault proxy, one wait and one temp dir for every test (re-exported where tests import them).
export { FaultProxy } from '../faults/fault-proxy.js';
export { tempDir, waitFor } from './fixtures.js';

/** A logger that writes nothing (set OUTPOST_TEST_LOG=debug to see the agent's logs). */
export function testLogger() {
  return pino({ level: process.env.OUTPOST_TEST_LOG ?? 'silent' });
}

/** The link settings of test agents: fast reconnects, a short keepalive and connect timeout. */
export const TEST_LINK = { reconnectMinMs: 20, reconnectMaxMs: 200, keepaliveS: 5, connectTimeoutMs: 2000 };

/** An agent config for tests: API on a free loopback port, fast reconnects and ack timeouts. */
export function agentTestConfig(
  input: Pick<AgentConfigInput, 'deviceId' | 'deviceSecret' | 'dataDir'> & Partial<AgentConfigInput>,
): AgentConfig {
  return AgentConfigSchema.parse({
    api: { port: 0 },
    link: TEST_LINK,
    outbox: { ackTimeoutMs: 1000 },
    logLevel: 'silent',
    ...input,
  });
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
  readonly publishes: Array<{
    topic: string;
    payload: Buffer;
    qos: number;
    retain: boolean;
    clientId: string | null;
  }> = [];
  /** Every subscription a client asked for, with its QoS. */
  readonly subscriptions: Array<{ clientId: string; topic: string; qos: number }> = [];
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
    broker.on('subscribe', (subscriptions, client) => {
      for (const { topic, qos } of subscriptions)
        this.subscriptions.push({ clientId: client.id, topic, qos });
    });
    broker.on('publish', (packet, client) => {
      if (packet.topic.startsWith('$SYS')) return;
      const payload = Buffer.from(packet.payload);
      this.publishes.push({
        topic: packet.topic,
        payload,
        qos: packet.qos,
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
