import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic, PROTOCOL_VERSION } from '../../shared/index.js';
import type { FleetDevice } from './credentials.js';

/** A connected simulated device. */
export interface SimDevice {
  device: FleetDevice;
  client: MqttClient;
  desired: number;
  acks: Map<string, (at: number) => void>;
  /** Batches sent again after 10 s without an ack. */
  resent: number;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Connects one protocol-level device (mqtt.js, MQTT 3.1.1) the way the agent does: will =
 * offline status, subscribe `ack`, `desired`, `cmd`, then announce online and report state.
 */
export async function connectDevice(url: string, device: FleetDevice): Promise<SimDevice> {
  const conn = `c-${device.id}`;
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: device.id,
    username: device.id,
    password: device.secret,
    reconnectPeriod: 0,
    connectTimeout: 120_000,
    keepalive: 300,
    will: {
      topic: deviceTopic(device.id, 'status'),
      payload: Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, state: 'offline', conn, at: Date.now() })),
      qos: 1,
      retain: true,
    },
  });
  const sim: SimDevice = { device, client, desired: 0, acks: new Map(), resent: 0 };
  const ackTopic = deviceTopic(device.id, 'ack');
  client.on('message', (topic, payload) => {
    if (topic === ackTopic) {
      const ack = JSON.parse(payload.toString()) as { batchId?: string };
      if (ack.batchId !== undefined) sim.acks.get(ack.batchId)?.(performance.now());
    } else sim.desired++;
  });
  await client.subscribeAsync([ackTopic, deviceTopic(device.id, 'desired'), deviceTopic(device.id, 'cmd')], {
    qos: 1,
  });
  const status = { v: PROTOCOL_VERSION, state: 'online', conn, at: Date.now() };
  await client.publishAsync(deviceTopic(device.id, 'status'), JSON.stringify(status), {
    qos: 1,
    retain: true,
  });
  return sim;
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

/** Sends `batches` batches of `perBatch` events on `lane`, one at a time, each waiting for its ack. */
export async function sendEvents(
  sim: SimDevice,
  batches: number,
  perBatch: number,
  latencies: number[],
  lane: FleetLane = 'results',
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
    // Like the agent: no ack within 10 s → resend (the hub ignores what it already has).
    for (;;) {
      await sim.client.publishAsync(deviceTopic(sim.device.id, 'up'), JSON.stringify(batch), { qos: 1 });
      const at = await Promise.race([
        acked,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000)),
      ]);
      if (at !== undefined) {
        latencies.push(at - start);
        break;
      }
      sim.resent++;
    }
    sim.acks.delete(batchId);
  }
}
