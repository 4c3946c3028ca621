/**
 * A device at the wire-protocol level for the failover tests: it connects to
 * the broker with its own credentials, announces itself online, and sends numbered events on
 * a lane, resending a batch until some replica acks it — like the agent's outbox, so a batch
 * in flight to a killed replica reaches the survivor. Lighter than a real agent per replica
 * pair of child processes; the events are the ones agents send (`telemetry.model`,
 * `fl.update.chunk`), valid against their schemas.
 */
import type { MqttClient } from 'mqtt';
import type { UplinkBatch } from '../../shared/index.js';
import { deviceTopic } from '../../shared/index.js';
import { closeClient, loginDevice, waitFor } from '../helpers/hub.js';

/** Credentials as `POST /v1/devices` returns them. */
export interface DeviceCredentials {
  id: string;
  secret: string;
}

/** A connected protocol-level device. */
export interface ProtocolDevice {
  id: string;
  /** Sends `events` (type and body each) as one batch on `lane`; resolves once acked. */
  send(lane: UplinkBatch['lane'], events: Array<{ type: string; body: unknown }>): Promise<void>;
  /** The next batch of `events` on `lane` (its seqs taken), not sent yet. */
  prepare(lane: UplinkBatch['lane'], events: Array<{ type: string; body: unknown }>): UplinkBatch;
  /** Sends a prepared batch until some replica acks it. */
  sendBatch(batch: UplinkBatch): Promise<void>;
  /** Batches that had to be resent (no ack within the resend timeout). */
  resent(): number;
  close(): Promise<void>;
}

/** Enrolls a device through the admin API of `http`; throws unless 201. */
export async function enrollDevice(
  http: string,
  admin: string,
  body: { id: string; labels?: Record<string, string> },
): Promise<DeviceCredentials> {
  const res = await fetch(`${http}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`enroll ${body.id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as DeviceCredentials;
}

/**
 * Connects `creds` to `brokerUrl` (retrying until the broker knows the device), announces
 * `online` (retained, like the agent) and returns the device. `resendMs`: ack timeout before
 * a batch is sent again (default 2000 ms).
 */
export async function connectDevice(
  brokerUrl: string,
  creds: DeviceCredentials,
  resendMs = 2000,
): Promise<ProtocolDevice> {
  const client: MqttClient = await waitFor(
    () => loginDevice(brokerUrl, creds).catch(() => false as const),
    `the broker to accept ${creds.id}`,
  );
  const acks = new Set<string>();
  client.on('message', (_t, payload) => {
    const ack = JSON.parse(payload.toString()) as { batchId?: string };
    if (typeof ack.batchId === 'string') acks.add(ack.batchId);
  });
  await client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
  const conn = `conn-${creds.id}`;
  await client.publishAsync(
    deviceTopic(creds.id, 'status'),
    JSON.stringify({ v: 1, state: 'online', conn, at: Date.now() }),
    { qos: 1, retain: true },
  );
  const seqs = new Map<string, number>();
  let resent = 0;
  let batches = 0;
  const prepare = (lane: UplinkBatch['lane'], events: Array<{ type: string; body: unknown }>) => {
    const first = (seqs.get(lane) ?? 0) + 1;
    seqs.set(lane, first + events.length - 1);
    return {
      v: 1,
      epoch: 'epochfailoverjobs',
      lane,
      batchId: `${creds.id}-${++batches}`,
      events: events.map((e, i) => ({ seq: first + i, type: e.type, at: Date.now(), body: e.body })),
    } as UplinkBatch;
  };
  const sendBatch = async (batch: UplinkBatch) => {
    for (;;) {
      await client.publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
      const ok = await waitFor(() => acks.has(batch.batchId), 'ack', resendMs).catch(() => false);
      if (ok) return;
      resent++;
    }
  };
  return {
    id: creds.id,
    send: (lane, events) => sendBatch(prepare(lane, events)),
    prepare,
    sendBatch,
    resent: () => resent,
    close: () => closeClient(client),
  };
}
