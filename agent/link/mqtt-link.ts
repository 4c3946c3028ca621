import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  type DownlinkChannel,
  deviceTopic,
  HUB_TO_DEVICE,
  mqttFailover,
  type Pong,
  type UplinkChannel,
} from '../../shared/index.js';
import { withTimeout } from '../util/timeout.js';
import { backoffDelayMs } from './backoff.js';
import { PingMonitor } from './ping.js';
import { lastWill, newConnId, statusPayload } from './status.js';

/** Settings of the link (from the agent config). */
export interface LinkOptions {
  /** `{ pv }` for messages to the hub once it reads it (agent/link/hub-version.ts). */
  stamp?: () => { pv?: string };
  deviceId: string;
  deviceSecret: string;
  /**
   * Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`), or a comma-separated list of them
   * (a NATS cluster's nodes): every reconnect attempt goes to the next one, round the list.
   */
  mqttUrl: string;
  /** CA to trust and client certificate + key for `mqtts://` / `wss://`. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Application-level ping period and answer deadline, ms (dead links). */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** QoS of the uplink batches (`up`) and of the subscriptions (config `link.qos`). */
  qos: number;
  log: Logger;
  /** Every inbound message; must not throw. */
  onMessage(topic: string, payload: Buffer): void;
  /** The link is up: online status published and subscriptions granted. */
  onConnect(): void;
  /** The link that was up went down. */
  onDisconnect(): void;
}

/** The link as `GET /v1/status` shows it. */
export interface LinkInfo {
  /** True once connected, the online status published and the subscriptions granted. */
  connected: boolean;
  /** When `connected` last changed (agent start before any change), ms. */
  since: number;
  /** Successful connections so far. */
  connects: number;
  /** The latest connection or protocol error, if any. */
  lastError: string | null;
  /** Round trip of the latest application-level ping, ms; null before the first. */
  pingRttMs: number | null;
  /** Dead links detected by the ping (a pong overdue), each followed by a reconnect. */
  deadLinks: number;
}

/** Wait for the offline status' PUBACK and the clean DISCONNECT on close, ms. */
const CLOSE_STEP_TIMEOUT_MS = 2000;

/**
 * The agent's MQTT 3.1.1 link to the hub: persistent session (`clean: false`) at
 * `link.qos` 1, a clean one at 0 (a QoS 0 subscription has nothing for the broker to keep;
 * on NATS, resuming a session after a node's death took 9 s where a clean one took 2),
 * client id = username = device id, a retained QoS 1 last will `offline` carrying a fresh
 * `conn` id per connection attempt, and reconnects with full-jitter exponential backoff
 * driven here (mqtt.js' own `reconnectPeriod` is 0).
 */
export class MqttLink {
  readonly #o: LinkOptions;
  readonly #log: Logger;
  readonly #ping: PingMonitor;
  #client: MqttClient | undefined;
  #conn = '';
  #connOpenedAt = 0;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #ready = false;
  #since = Date.now();
  #connects = 0;
  #lastError: string | null = null;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#ping = new PingMonitor({
      intervalMs: options.pingIntervalMs,
      timeoutMs: options.pingTimeoutMs,
      publish: (payload) => this.publish('ping', payload, { qos: 0 }),
      onDead: (reason) => this.drop(reason),
      log: options.log,
      now: Date.now,
      ...(options.stamp ? { stamp: options.stamp } : {}),
    });
  }

  /** Starts connecting (the first attempt is immediate). */
  start(): void {
    if (this.#client || this.#closing) return;
    this.#newConn();
    const options: IClientOptions = {
      protocolVersion: 4,
      clientId: this.#o.deviceId,
      username: this.#o.deviceId,
      password: this.#o.deviceSecret,
      clean: this.#qos() === 0,
      keepalive: this.#o.keepaliveS,
      connectTimeout: this.#o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      will: this.#will(),
      ...this.#o.tls,
    };
    // Several URLs: mqtt.js moves to the next server on each `reconnect()` (see #onClose).
    const { url, servers } = mqttFailover(this.#o.mqttUrl);
    if (servers) options.servers = servers;
    const client = mqtt.connect(url, options);
    this.#client = client;
    client.on('connect', () => void this.#onConnect(client));
    client.on('close', () => this.#onClose());
    client.on('error', (err) => this.#error(err.message));
    client.on('message', (topic, payload) => this.#o.onMessage(topic, payload));
  }

  /** True while the link is up (see {@link LinkInfo.connected}). */
  get connected(): boolean {
    return this.#ready;
  }

  /** Id of the current (or latest) connection attempt. */
  get conn(): string {
    return this.#conn;
  }

  /** Snapshot for the status API. */
  info(): LinkInfo {
    return {
      connected: this.#ready,
      since: this.#since,
      connects: this.#connects,
      lastError: this.#lastError,
      pingRttMs: this.#ping.lastRttMs,
      deadLinks: this.#ping.deadLinks,
    };
  }

  /** A pong from the hub (routed from the `ack` topic). */
  onPong(pong: Pong): void {
    this.#ping.onPong(pong);
  }

  /**
   * Drops the current connection at once (no DISCONNECT: the path may be dead), so that it
   * reconnects with backoff and the outbox resends what is unacknowledged. The will tells
   * the hub the device is offline.
   */
  drop(reason: string): void {
    const client = this.#client;
    if (!client || this.#closing) return;
    this.#error(reason);
    client.stream.destroy();
  }

  /**
   * Publishes on one of the device's own channels, at QoS 1 unless told otherwise (`up` at
   * `link.qos`). Returns false (nothing sent) while the link is down; a failed publish is
   * logged, never thrown.
   */
  publish(channel: UplinkChannel, payload: Buffer, options: { retain?: boolean; qos?: 0 | 1 } = {}): boolean {
    const client = this.#client;
    if (!client || !this.#ready) return false;
    client.publish(
      deviceTopic(this.#o.deviceId, channel),
      payload,
      { qos: options.qos ?? (channel === 'up' ? this.#qos() : 1), retain: options.retain ?? false },
      (err) => {
        if (err) this.#log.debug({ err: err.message, channel }, 'publish not completed');
      },
    );
    return true;
  }

  /**
   * Publishes the retained `offline` status (a clean DISCONNECT discards the will), then
   * disconnects cleanly. Idempotent; each step is bounded by a timeout.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#ping.stop();
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const client = this.#client;
    if (!client) return;
    if (client.connected) {
      const offline = statusPayload('offline', this.#conn, Date.now());
      try {
        await withTimeout(
          client.publishAsync(deviceTopic(this.#o.deviceId, 'status'), offline, { qos: 1, retain: true }),
          CLOSE_STEP_TIMEOUT_MS,
        );
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'offline status not published');
      }
      const ended = await withTimeout(
        client.endAsync().then(() => true),
        CLOSE_STEP_TIMEOUT_MS,
      ).catch(() => undefined);
      if (ended) return;
      // A stalled broker never completes the DISCONNECT: drop the socket (the will says offline).
      this.#log.warn('clean disconnect timed out; dropping the connection');
      client.stream.destroy();
      return;
    }
    // Not connected: a forced end destroys any attempt in progress and calls back at once.
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }

  #qos(): 0 | 1 {
    return this.#o.qos === 0 ? 0 : 1;
  }

  #newConn(): void {
    this.#conn = newConnId();
    this.#connOpenedAt = Date.now();
  }

  #will(): NonNullable<IClientOptions['will']> {
    return lastWill(this.#o.deviceId, this.#conn, this.#connOpenedAt);
  }

  async #onConnect(client: MqttClient): Promise<void> {
    // Small packets (PUBACKs, pings) must not wait on Nagle's algorithm and the peer's
    // delayed ACK: tens of ms per round trip otherwise (online latency).
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const conn = this.#conn;
    const stillCurrent = () => !this.#closing && client.connected && conn === this.#conn;
    client.publish(deviceTopic(this.#o.deviceId, 'status'), statusPayload('online', this.#conn, Date.now()), {
      qos: 1,
      retain: true,
    });
    const topics = HUB_TO_DEVICE.map((channel: DownlinkChannel) => deviceTopic(this.#o.deviceId, channel));
    try {
      // Always resubscribe: the broker may have lost the persistent session.
      const granted = await client.subscribeAsync(topics, { qos: this.#qos() });
      const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) throw new Error(`subscription refused: ${refused.join(', ')}`);
    } catch (err) {
      if (!stillCurrent()) return;
      this.#error((err as Error).message);
      this.#log.error(
        { err: (err as Error).message },
        'subscribing failed; dropping the connection to retry',
      );
      client.stream.destroy();
      return;
    }
    if (!stillCurrent()) return;
    this.#attempt = 0;
    this.#connects += 1;
    this.#ready = true;
    this.#since = Date.now();
    this.#log.info({ conn, connects: this.#connects }, 'connected to the hub');
    this.#ping.start(conn);
    this.#o.onConnect();
  }

  #onClose(): void {
    this.#ping.stop();
    this.#dropInFlight();
    if (this.#ready) {
      this.#ready = false;
      this.#since = Date.now();
      this.#log.info({ conn: this.#conn }, 'disconnected from the hub');
      this.#o.onDisconnect();
    }
    if (this.#closing || this.#reconnectTimer) return;
    const delay = backoffDelayMs(this.#attempt, this.#o.reconnectMinMs, this.#o.reconnectMaxMs);
    this.#attempt += 1;
    this.#log.debug({ delayMs: delay, attempt: this.#attempt }, 'reconnect scheduled');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      const client = this.#client;
      if (this.#closing || !client) return;
      // A fresh conn id per attempt, carried by this attempt's will.
      this.#newConn();
      client.options.will = this.#will();
      client.reconnect();
    }, delay);
  }

  /**
   * Forgets publishes still waiting for a PUBACK on the dead connection. The outbox, not
   * mqtt.js' memory, is what gets resent (and state and status are republished on connect);
   * stale entries would otherwise hold a later clean DISCONNECT back forever.
   */
  #dropInFlight(): void {
    const client = this.#client;
    if (!client) return;
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
  }

  #error(message: string): void {
    if (message !== this.#lastError) this.#log.warn({ err: message }, 'MQTT link error');
    else this.#log.debug({ err: message }, 'MQTT link error (repeated)');
    this.#lastError = message;
  }
}
