/**
 * Test helpers for the hub: temp data dirs, a real hub on free ports, enrollment through
 * the real HTTP API, real mqtt.js device connections, and a polling wait.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  type BuildHubOptions,
  buildHub,
  type Hub,
  type HubConfigInput,
  HubConfigSchema,
} from '../../hub/index.js';
import { deviceTopic, type UplinkBatch } from '../../shared/index.js';
import { type TempDir, tempDir, waitFor } from './fixtures.js';

export { Cleanups, type TempDir, tempDir, waitFor } from './fixtures.js';

/**
 * Starts a real hub on 127.0.0.1, ports 0 (never 1883: the machine may run Mosquitto).
 * Logs are silent unless `OUTPOST_TEST_LOG` names a level.
 */
export async function startHub(
  dataDir: string,
  overrides: Partial<HubConfigInput> = {},
  options: BuildHubOptions = {},
): Promise<Hub> {
  const config = HubConfigSchema.parse({
    dataDir,
    logLevel: process.env.OUTPOST_TEST_LOG ?? 'silent',
    ...overrides,
    http: { host: '127.0.0.1', port: 0, ...overrides.http },
    mqtt: { host: '127.0.0.1', port: 0, ...overrides.mqtt },
  });
  return buildHub(config, options);
}

/** An HTTP answer: status and parsed JSON body (undefined when empty). */
export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  body: any;
}

/** Calls the hub's HTTP API; `token` defaults to the hub's admin token (`null` sends none). */
export async function api(
  hub: Hub,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = hub.adminToken,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${hub.http.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Device credentials as enrollment returns them. */
export interface Credentials {
  id: string;
  secret: string;
}

/** Enrolls a device through `POST /v1/devices`. */
export async function enroll(hub: Hub, body: Record<string, unknown> = {}): Promise<Credentials> {
  const res = await api(hub, 'POST', '/v1/devices', body);
  if (res.status !== 201) throw new Error(`enrollment failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, secret: res.body.secret };
}

/** A connected device and every message it received. */
export interface TestDevice {
  client: MqttClient;
  messages: Array<{ topic: string; payload: Buffer }>;
  /** Messages on one channel of this device, JSON-parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  received(topic: string): any[];
}

/**
 * One MQTT 3.1.1 login of a device with mqtt.js at `url` (any broker: the hub's, Mosquitto, a
 * NATS node): client id = username = the device id, no reconnect, a 10 s CONNACK timeout;
 * `extra` adds or overrides options (a will, TLS material, `clean`). Rejects when refused, and
 * when the broker closes the connection without a CONNACK (mqtt.js' `allowRetries` false).
 */
export function loginDevice(
  url: string,
  creds: Credentials,
  extra: Partial<IClientOptions> = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clientId: creds.id,
      username: creds.id,
      password: creds.secret,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...extra,
    },
    false,
  );
}

/** Connects a device with mqtt.js (MQTT 3.1.1, no reconnect) over TCP or WebSocket. */
export async function connectDevice(
  hub: Hub,
  creds: Credentials,
  options: Partial<IClientOptions> & { transport?: 'tcp' | 'ws' } = {},
): Promise<TestDevice> {
  const { transport = 'tcp', ...rest } = options;
  const client = await loginDevice(transport === 'ws' ? hub.ws.url : hub.mqtt.url, creds, rest);
  const messages: TestDevice['messages'] = [];
  client.on('message', (topic, payload) => messages.push({ topic, payload }));
  return {
    client,
    messages,
    received: (topic) =>
      messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload.toString())),
  };
}

/** The environment that points the `outpost` CLI at `hub` with its admin token. */
export function cliEnv(hub: Hub): Record<string, string> {
  return { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
}

/** A hub in its own temp dir and the CLI environment that points at it. */
export interface HubForCli {
  dir: TempDir;
  hub: Hub;
  /** {@link cliEnv} of `hub`. */
  env: Record<string, string>;
  /** Closes the hub and deletes the dir. */
  close(): Promise<void>;
}

/** Starts a hub (`overrides` on its config) for tests that drive it with the `outpost` CLI. */
export async function startHubForCli(overrides: Partial<HubConfigInput> = {}): Promise<HubForCli> {
  const dir = tempDir();
  const hub = await startHub(dir.path, overrides).catch((err) => {
    dir.remove();
    throw err;
  });
  return {
    dir,
    hub,
    env: cliEnv(hub),
    close: async () => {
      await hub.close();
      dir.remove();
    },
  };
}

/** A hub in its own temp dir with one enrolled device, not connected. */
export interface HubWithEnrolledDevice {
  dir: TempDir;
  hub: Hub;
  creds: Credentials;
  /** Devices a test connected; `close()` disconnects them. */
  connected: TestDevice[];
  /** Disconnects the `connected` devices, closes the hub and deletes the dir, in that order. */
  close(): Promise<void>;
}

/**
 * Starts a hub (`hub` overrides its config, `build` is passed to `buildHub`, a logger say) and
 * enrolls one device with `enroll` as the body, for tests that connect it themselves
 * (credentials, wills, takeovers). What started is closed again when a later step fails.
 */
export async function startHubWithEnrolledDevice(
  options: { hub?: Partial<HubConfigInput>; build?: BuildHubOptions; enroll?: Record<string, unknown> } = {},
): Promise<HubWithEnrolledDevice> {
  const dir = tempDir();
  let hub: Hub | undefined;
  try {
    hub = await startHub(dir.path, options.hub, options.build);
    const creds = await enroll(hub, options.enroll);
    const connected: TestDevice[] = [];
    const started = hub;
    return {
      dir,
      hub,
      creds,
      connected,
      close: async () => {
        for (const device of connected) await closeClient(device.client);
        await started.close();
        dir.remove();
      },
    };
  } catch (err) {
    await hub?.close().catch(() => undefined);
    dir.remove();
    throw err;
  }
}

/** {@link HubWithEnrolledDevice} with the device connected over MQTT and subscribed to its `ack`. */
export interface HubWithDevice extends HubWithEnrolledDevice {
  /** The enrolled device's connection, also in `connected`. */
  device: TestDevice;
}

/**
 * Starts the set-up of the protocol-level hub tests: {@link startHubWithEnrolledDevice}, the
 * device then connected with mqtt.js and subscribed to its `ack` channel so that every answer
 * the hub sends lands in `device.received`. What started is closed again when a step fails.
 */
export async function startHubWithDevice(
  options: { hub?: Partial<HubConfigInput>; enroll?: Record<string, unknown> } = {},
): Promise<HubWithDevice> {
  const base = await startHubWithEnrolledDevice(options);
  try {
    const device = await connectDevice(base.hub, base.creds);
    base.connected.push(device);
    await device.client.subscribeAsync(deviceTopic(base.creds.id, 'ack'), { qos: 1 });
    return { ...base, device };
  } catch (err) {
    await base.close().catch(() => undefined);
    throw err;
  }
}

/** Closes a client however it is (connected or not), never throwing. */
export async function closeClient(client: MqttClient | undefined): Promise<void> {
  if (client === undefined) return;
  await client.endAsync(true).catch(() => undefined);
}

/** A valid uplink batch of `count` events from `firstSeq`. */
export function makeBatch(
  epoch: string,
  firstSeq: number,
  count: number,
  batchId: string,
  lane: UplinkBatch['lane'] = 'results',
): UplinkBatch {
  return {
    v: 1,
    epoch,
    lane,
    batchId,
    events: Array.from({ length: count }, (_, i) => ({
      seq: firstSeq + i,
      type: 'test.event',
      at: 1_700_000_000_000 + firstSeq + i,
      body: { n: firstSeq + i },
    })),
  };
}

/** Publishes `batch` on the device's `up` (QoS 1) and waits for the ack of its batchId. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function sendBatch(device: TestDevice, id: string, batch: UplinkBatch): Promise<any> {
  const ackTopic = deviceTopic(id, 'ack');
  await device.client.publishAsync(deviceTopic(id, 'up'), JSON.stringify(batch), { qos: 1 });
  return waitFor(
    () => device.received(ackTopic).find((ack) => ack.batchId === batch.batchId),
    `ack of ${batch.batchId}`,
  );
}

/**
 * Subscribes and returns the SUBACK's granted codes, 128 (0x80) included: mqtt.js rejects a
 * SUBACK that carries a failure, with the packet attached.
 */
export async function subscribeGranted(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    const packet = await client.subscribeAsync(topics, { qos: 1 });
    return packet.map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: Array<number | object> } }).packet;
    if (packet?.granted === undefined) throw err;
    return packet.granted.map((g) => (typeof g === 'number' ? g : Number.NaN));
  }
}

/** Resolves when the client's connection has closed. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** Resolves like `promise`, or rejects after a generous safety timeout naming `what`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
