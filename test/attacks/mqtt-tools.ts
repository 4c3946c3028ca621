/** MQTT helpers of the attack suite: message capture and a delivery barrier. */
import type { MqttClient } from 'mqtt';
import { deviceTopic } from '../../shared/index.js';
import { type Credentials, makeBatch, subscribeGranted, waitFor } from '../helpers/hub.js';

/** Every message a client receives, from now on. */
export function capture(client: MqttClient): Array<{ topic: string; payload: string }> {
  const seen: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  return seen;
}

let counter = 0;

/**
 * A barrier: `client` (connected as `creds`, subscribed to its own `ack`) publishes a valid
 * batch on its own `up` and waits for the hub's ack. Once it arrives, anything the broker
 * routed to this connection before the ack has arrived too (one connection is delivered in
 * order), and the hub has processed what reached it before.
 */
export async function roundTrip(
  client: MqttClient,
  creds: Credentials,
  seen: Array<{ topic: string; payload: string }>,
): Promise<void> {
  const batchId = `barrier-${process.pid}-${++counter}`;
  const ack = deviceTopic(creds.id, 'ack');
  await client.publishAsync(
    deviceTopic(creds.id, 'up'),
    JSON.stringify(makeBatch(`ep${counter}barrier`, 1, 1, batchId)),
    { qos: 1 },
  );
  await waitFor(
    () => seen.some((m) => m.topic === ack && m.payload.includes(batchId)),
    `ack of ${batchId} to ${creds.id}`,
  );
}

/** Subscribes to the device's own `ack` (needed by {@link roundTrip}). */
export async function subscribeOwnAck(client: MqttClient, creds: Credentials): Promise<void> {
  const [granted] = await subscribeGranted(client, [deviceTopic(creds.id, 'ack')]);
  if (granted === 128) throw new Error(`${creds.id} may not subscribe to its own ack`);
}

/** Resolves after `client` closed, or at once when it already has. */
export function whenClosed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/**
 * Publishes QoS 1 and resolves once the broker acked it or closed the connection (a refused
 * publish closes it on the embedded broker; Mosquitto acks and drops it).
 */
export async function tryPublish(client: MqttClient, topic: string, payload: string, retain = false) {
  if (!client.connected) return;
  await Promise.race([
    client.publishAsync(topic, payload, { qos: 1, retain }).catch(() => undefined),
    whenClosed(client),
  ]);
}
