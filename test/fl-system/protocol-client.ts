/**
 * Devices of the federated tests that speak the protocol themselves instead of running an
 * agent: an attacker, a device that lags on purpose. Such a client reports no
 * `federated.artifacts`, so its tasks embed the global weights.
 */
import { chunkEvents, type UpdateFigures } from '../../agent/federated/update-events.js';
import { chunk, decodeUpdate, encodeUpdate, type ModelWeights } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { closeClient, connectDevice, enroll, type TestDevice } from '../helpers/hub.js';

/** A connected protocol-level client. */
export interface ProtocolClient {
  id: string;
  device: TestDevice;
}

/** Enrolls `name`, connects it, subscribes to its desired state and acks, and says it is online. */
export async function protocolClient(
  hub: Hub,
  name: string,
  cleanups: { push(step: () => unknown): unknown },
): Promise<ProtocolClient> {
  const creds = await enroll(hub, { name });
  const device = await connectDevice(hub, creds);
  cleanups.push(() => closeClient(device.client));
  await device.client.subscribeAsync([deviceTopic(creds.id, 'desired'), deviceTopic(creds.id, 'ack')], {
    qos: 1,
  });
  const status = { v: 1, state: 'online', conn: `c-${name}`, at: Date.now() };
  await device.client.publishAsync(deviceTopic(creds.id, 'status'), JSON.stringify(status), {
    qos: 1,
    retain: true,
  });
  return { id: creds.id, device };
}

/** The task of the latest desired document the client received, or undefined before any. */
export function latestTask(client: ProtocolClient): FlTask | undefined {
  const docs = client.device.received(deviceTopic(client.id, 'desired'));
  return docs.findLast((d) => d.federated?.task)?.federated.task as FlTask | undefined;
}

/** The global weights a task embeds. */
export function taskWeights(task: FlTask): ModelWeights {
  return decodeUpdate(Buffer.from(task.weights as string, 'base64'), task.shapes);
}

/** The learning-lane events (chunks of 32 KiB) that carry `delta` as an update to `task`, as an agent sends them. */
export function updateEvents(task: FlTask, delta: ModelWeights, figures: Omit<UpdateFigures, 'clipped'>) {
  const chunks = chunk(encodeUpdate(delta, { compression: 'none' }), 32 * 1024);
  return chunkEvents(task, chunks, { ...figures, clipped: false }).map((e, i) => ({
    seq: i + 1,
    type: e.type,
    at: Date.now(),
    body: e.body,
  }));
}
