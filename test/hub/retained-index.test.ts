import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { indexRetainedMessages, type RetainedPersistence } from '../../hub/broker/retained-index.js';
import { waitFor } from '../helpers/hub.js';

/** Subscribes a fresh client to `filters` and collects the retained topic→payload it receives. */
async function retainedFor(url: string, filters: string[], expected: number): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 }, false);
  const got = new Map<string, string>();
  let count = 0;
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) {
      got.set(topic, payload.toString());
      count++;
    }
  });
  try {
    await client.subscribeAsync(filters, { qos: 1 });
    await waitFor(() => count >= expected, `${expected} retained messages for ${filters.join(', ')}`);
    // A round trip after the retained burst: anything extra would have arrived by now.
    await client.publishAsync('probe/x', 'p', { qos: 1 });
    assert.equal(count, expected, `retained deliveries for ${filters.join(', ')}`);
    return got;
  } finally {
    await client.endAsync(true);
  }
}

describe('hub broker: retained messages indexed by exact topic', () => {
  let aedes: Aedes;
  let server: Server;
  let url: string;
  let publisher: MqttClient;

  before(async () => {
    aedes = await Aedes.createBroker();
    indexRetainedMessages((aedes as unknown as { persistence: RetainedPersistence }).persistence);
    server = createServer(aedes.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    url = `mqtt://127.0.0.1:${address.port}`;
    publisher = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 }, false);
    for (let i = 0; i < 50; i++) {
      await publisher.publishAsync(`d/dev-${i}/desired`, `v1-${i}`, { qos: 1, retain: true });
      await publisher.publishAsync(`d/dev-${i}/status`, `on-${i}`, { qos: 1, retain: true });
    }
    await publisher.publishAsync('d/dev-7/desired', 'v2-7', { qos: 1, retain: true }); // replaces
    await publisher.publishAsync('d/dev-8/desired', '', { qos: 1, retain: true }); // deletes
    await publisher.publishAsync('$internal/x', 'hidden', { qos: 1, retain: true });
  });

  after(async () => {
    await publisher?.endAsync(true);
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    server?.close();
  });

  test('an exact subscription gets only its own topic, the latest payload', async () => {
    const got = await retainedFor(url, ['d/dev-7/desired', 'd/dev-7/cmd'], 1);
    assert.deepEqual([...got], [['d/dev-7/desired', 'v2-7']]);
  });

  test('an empty retained payload deleted the message', async () => {
    const got = await retainedFor(url, ['d/dev-8/desired', 'd/dev-8/status'], 1);
    assert.deepEqual([...got], [['d/dev-8/status', 'on-8']]);
  });

  test('wildcard subscriptions still match every retained topic, never a $ topic with a leading wildcard', async () => {
    const plus = await retainedFor(url, ['d/+/desired'], 49);
    assert.equal(plus.get('d/dev-7/desired'), 'v2-7');
    assert.equal(plus.has('d/dev-8/desired'), false);
    const all = await retainedFor(url, ['#'], 99);
    assert.equal(all.has('$internal/x'), false);
    const dollar = await retainedFor(url, ['$internal/#'], 1);
    assert.equal(dollar.get('$internal/x'), 'hidden');
  });
});
