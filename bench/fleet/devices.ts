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

/** Sends `batches` results batches of `perBatch` events, one at a time, each waiting for its ack. */
export async function sendEvents(sim: SimDevice, batches: number, perBatch: number, latencies: number[]) {
  for (let b = 0; b < batches; b++) {
    const batchId = `${sim.device.id}-${b}`;
    const batch = {
      v: PROTOCOL_VERSION,
      epoch: 'epochfleet1',
      lane: 'results',
      batchId,
      events: Array.from({ length: perBatch }, (_, i) => ({
        seq: 1 + b * perBatch + i,
        type: 'bench.result',
        at: Date.now(),
        body: { label: i % 10, confidence: 0.9 },
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
