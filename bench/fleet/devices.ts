import mqtt, { type MqttClient } from 'mqtt';
import { backoffDelayMs } from '../../agent/link/backoff.js';
import { ackWaitMs } from '../../agent/outbox/ack-backoff.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../shared/index.js';
import type { FleetDevice } from './credentials.js';
import { epochNow } from './shard-protocol.js';

/** A connected simulated device. */
export interface SimDevice {
  device: FleetDevice;
  /** The broker URLs it may use (one, or every node of a cluster) and the one in use. */
  urls: readonly string[];
  urlIndex: number;
  client: MqttClient;
  /** Desired-state messages received, in all and since the link in use was subscribed. */
  desired: number;
  desiredOnLink: number;
  acks: Map<string, (at: number) => void>;
  /** Batches sent again (after an ack timeout, backed off as the agent's, or after a reconnect). */
  resent: number;
  /** Resolves once a link is up again (connected, subscribed, online announced). */
  up: Promise<void>;
  /** Resolves when the link in use drops. */
  down: Promise<void>;
  /** Uplink payload bytes published (resends included). */
  sentBytes: number;
  /** Completed reconnects, and when the last one was subscribed again ({@link epochNow}). */
  reconnects: number;
  reconnectedAt?: number;
  /** Why the last reconnect attempt failed. */
  lastError?: string;
  /** Set by {@link stopDevice}: a dropped link is no longer replaced. */
  stopped: boolean;
  /** QoS of its subscriptions and batches: the hub's join tokens' `link.qos`, as the agent. */
  qos: 0 | 1;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After a failure no new item starts,
 * the ones in flight finish (so that the caller can clean up what they made), then it rejects.
 */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      try {
        await fn(items[next++] as T);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects when `client` closes or `ms` pass first. */
function guard<T>(client: MqttClient, work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onClose: (() => void) | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      onClose = () => reject(new Error(`${what}: the connection closed`));
      client.once('close', onClose);
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    if (onClose) client.off('close', onClose);
  });
}

/**
 * One link the way the agent opens it (persistent session): will = offline status, subscribe `ack`, `desired`,
 * `cmd`, then announce online. Rejects (closing what it opened) when any step fails.
 */
async function openLink(sim: SimDevice, url: string): Promise<MqttClient> {
  const { device } = sim;
  const conn = `c-${device.id}-${sim.reconnects}`;
  // allowRetries false: a connection closed without a CONNACK rejects instead of hanging.
  const client = await mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clientId: device.id,
      username: device.id,
      password: device.secret,
      reconnectPeriod: 0,
      connectTimeout: 120_000,
      keepalive: 300,
      // As the agent: a persistent session at QoS 1 (after a NATS node dies, the session and
      // its subscriptions' JetStream consumers resume on another node instead of being
      // rebuilt), a clean one at QoS 0, where the broker has nothing to keep.
      clean: sim.qos === 0,
      will: {
        topic: deviceTopic(device.id, 'status'),
        payload: Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, state: 'offline', conn, at: Date.now() })),
        qos: 1,
        retain: true,
      },
    },
    false,
  );
  const ackTopic = deviceTopic(device.id, 'ack');
  client.on('message', (topic, payload) => {
    if (topic === ackTopic) {
      const ack = JSON.parse(payload.toString()) as { batchId?: string };
      if (ack.batchId !== undefined) sim.acks.get(ack.batchId)?.(performance.now());
    } else if (topic === deviceTopic(device.id, 'desired')) {
      sim.desired++;
      sim.desiredOnLink++;
    }
  });
  sim.desiredOnLink = 0;
  try {
    const topics = [ackTopic, deviceTopic(device.id, 'desired'), deviceTopic(device.id, 'cmd')];
    const granted = await guard(
      client,
      client.subscribeAsync(topics, { qos: sim.qos }),
      120_000,
      'subscribe',
    );
    if (granted.some((g) => g.qos === 128)) throw new Error('subscribe: refused by the broker');
    const status = { v: PROTOCOL_VERSION, state: 'online', conn, at: Date.now() };
    await guard(
      client,
      client.publishAsync(deviceTopic(device.id, 'status'), JSON.stringify(status), { qos: 1, retain: true }),
      120_000,
      'online status',
    );
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

/** Makes `client` the link in use: `down` resolves when it drops, and then a reconnect starts. */
function adopt(sim: SimDevice, client: MqttClient) {
  sim.client = client;
  let markDown = () => {};
  sim.down = new Promise<void>((r) => {
    markDown = r;
  });
  client.once('close', () => {
    markDown();
    client.end(true);
    if (!sim.stopped) sim.up = reconnect(sim);
  });
}

/**
 * The agent's reconnect backoff at its defaults (`link.reconnectMinMs`, `link.reconnectMaxMs`):
 * before each attempt a uniform delay in [0, min(max, min · 2^attempt)), so that the devices of
 * a dead node do not all knock on the survivors at once and again every few seconds.
 */
export const AGENT_RECONNECT = { minMs: 500, maxMs: 30_000 } as const;

/** Waits the agent's reconnect delay before attempt `attempt` (0 for the first retry). */
export const reconnectDelay = (attempt: number) =>
  sleep(backoffDelayMs(attempt, AGENT_RECONNECT.minMs, AGENT_RECONNECT.maxMs));

/**
 * Like the agent after a dead link: each attempt after its backoff delay, to the next URL of
 * the list, round the list, until one takes the device and its subscriptions again.
 */
async function reconnect(sim: SimDevice): Promise<void> {
  for (let attempt = 0; !sim.stopped; attempt++) {
    await reconnectDelay(attempt);
    if (sim.stopped) return;
    sim.urlIndex = (sim.urlIndex + 1) % sim.urls.length;
    try {
      const client = await openLink(sim, sim.urls[sim.urlIndex] as string);
      if (sim.stopped) {
        client.end(true);
        return;
      }
      sim.reconnects++;
      sim.reconnectedAt = epochNow();
      adopt(sim, client);
      return;
    } catch (err) {
      sim.lastError = `${sim.urls[sim.urlIndex]}: ${(err as Error).message}`;
    }
  }
}

/**
 * Connects one protocol-level device (mqtt.js, MQTT 3.1.1) the way the agent does, to
 * `urls[index]`; when that link drops later, it moves on to the next URL of `urls` (see
 * {@link reconnect}). Rejects when the first link fails (the caller decides on retries).
 */
export async function connectDevice(
  urls: readonly string[],
  index: number,
  device: FleetDevice,
  qos: 0 | 1,
): Promise<SimDevice> {
  const sim = {
    device,
    qos,
    urls,
    urlIndex: index,
    desired: 0,
    desiredOnLink: 0,
    acks: new Map(),
    resent: 0,
    sentBytes: 0,
    up: Promise.resolve(),
    reconnects: 0,
    stopped: false,
  } as unknown as SimDevice;
  adopt(sim, await openLink(sim, urls[index] as string));
  return sim;
}

/** Ends the device's link for good (no reconnect). */
export async function stopDevice(sim: SimDevice): Promise<void> {
  sim.stopped = true;
  await sim.client.endAsync(true);
}

/** Which events the devices send: inference results, or device telemetry and drift summaries. */
export type FleetLane = 'results' | 'telemetry';

const LEDGER = { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 };

/** Bin edges of the bench model's drift baseline: 4 features, 9 edges (10 bins) each. */
export const BENCH_DRIFT_EDGES = [-1.5, -1, -0.5, -0.2, 0, 0.2, 0.5, 1, 1.5];

/**
 * Event `k` of a device on `lane`: a result; or, alternately, a `telemetry.device` report (what
 * the agent sends every interval, ~1 KB) and a `telemetry.drift` summary of `bench@1.0.0` (4
 * features × 10 bins, 3 classes, as the agent's summariser sends it).
 */
export function fleetEvent(lane: FleetLane, k: number, now: number): { type: string; body: unknown } {
  if (lane === 'results') return { type: 'bench.result', body: { label: k % 10, confidence: 0.9 } };
  if (k % 2 === 0)
    return {
      type: 'telemetry.device',
      body: {
        at: now,
        uptimeS: k,
        profile: 'x86-64-cpu',
        memory: { rssBytes: 50_000_000 + k, heapUsedBytes: 20_000_000 },
        disk: { freeBytes: 10_000_000_000, totalBytes: 20_000_000_000 },
        engines: [{ model: 'bench', version: '1.0.0', precision: 'fp32', engine: 'onnx:cpu' }],
        cache: { hits: k, misses: 1, evictions: 0, entries: 1, bytes: 10, maxBytes: 100, hitRate: 0.5 },
        outbox: {
          telemetry: { depth: k % 7, bytes: 100, ledger: LEDGER },
          results: { depth: 0, bytes: 0, ledger: LEDGER },
          learning: { depth: 0, bytes: 0, ledger: LEDGER },
        },
        link: { connects: 1, deadLinks: 0, pingRttMs: 4 },
      },
    };
  const counts = () => Array.from({ length: BENCH_DRIFT_EDGES.length + 1 }, (_, i) => 5 + ((i * 7 + k) % 11));
  return {
    type: 'telemetry.drift',
    body: {
      from: now - 60_000,
      to: now,
      models: [
        {
          model: 'bench',
          version: '1.0.0',
          rows: 10 * 10,
          features: [counts(), counts(), counts(), counts()],
          classes: [40, 35, 25],
        },
      ],
    },
  };
}

/** The agent's default `outbox.ackTimeoutMs`, the base of the resend backoff, ms. */
const AGENT_ACK_TIMEOUT_MS = 10_000;

/** Sends `batches` batches of `perBatch` events on `lane`, one at a time, each waiting for its ack. */
export async function sendEvents(
  sim: SimDevice,
  batches: number,
  perBatch: number,
  latencies: number[],
  lane: FleetLane = 'results',
  onAck?: () => void,
) {
  for (let b = 0; b < batches; b++) {
    const batchId = `${sim.device.id}-${b}`;
    const batch = {
      v: PROTOCOL_VERSION,
      epoch: 'epochfleet1',
      lane,
      batchId,
      events: Array.from({ length: perBatch }, (_, i) => ({
        seq: 1 + b * perBatch + i,
        ...fleetEvent(lane, b * perBatch + i, Date.now()),
        at: Date.now(),
      })),
    };
    const acked = new Promise<number>((resolve) => sim.acks.set(batchId, resolve));
    const start = performance.now();
    // Like the agent: no ack within its backed-off timeout (10 s, doubling per timeout in a row up
    // to 80 s, jittered), or a link that dropped → resend the same batch (same batch id: the hub
    // drops what it stored already) once a link is up again. The ack ends the loop: the next
    // batch starts from 0 timeouts.
    let timeouts = 0;
    for (let sends = 0; ; sends++) {
      await sim.up;
      if (sends > 0) sim.resent++;
      const down = sim.down;
      const payload = JSON.stringify(batch);
      sim.sentBytes += Buffer.byteLength(payload);
      sim.client.publish(deviceTopic(sim.device.id, 'up'), payload, { qos: sim.qos }, () => {});
      let timer: NodeJS.Timeout | undefined;
      const at = await Promise.race([
        acked,
        down.then(() => 'down' as const),
        new Promise<'timeout'>((r) => {
          timer = setTimeout(() => r('timeout'), ackWaitMs(timeouts, AGENT_ACK_TIMEOUT_MS));
        }),
      ]);
      clearTimeout(timer);
      if (typeof at === 'number') {
        latencies.push(at - start);
        onAck?.();
        break;
      }
      if (at === 'timeout') timeouts++;
    }
    sim.acks.delete(batchId);
  }
}
