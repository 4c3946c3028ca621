import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { Hub, HubStats } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  type Credentials,
  closeClient,
  loginDevice,
  makeBatch,
  subscribeGranted,
  waitFor,
} from '../helpers/hub.js';
import { probePostgres } from '../store-contract/backends.js';
import { HUB_USER, mosquittoSkip, type ReplicasOnMosquitto, startReplicasOnMosquitto } from './mosquitto.js';

// The hub on an external broker (our own Mosquitto on a free port) with the
// password file and `%u` ACL it generates, and two replicas on one PostgreSQL splitting the
// device traffic through shared subscriptions.

const HUB_PASSWORD = 'hub-broker-password-for-tests';
const skip = mosquittoSkip() ?? (await probePostgres());

async function connectAs(
  url: string,
  username: string,
  password: string,
  clientId = username,
): Promise<MqttClient> {
  return mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clientId,
      username,
      password,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    },
    false,
  );
}

describe('hub on an external Mosquitto, two replicas', { skip }, () => {
  let replicas: ReplicasOnMosquitto;
  const clients: MqttClient[] = [];
  before(async () => {
    replicas = await startReplicasOnMosquitto({
      hubPassword: HUB_PASSWORD,
      authDirPrefix: 'outpost-broker-auth-',
      deviceIdPrefix: 'ext-dev-',
      devices: 6,
    });
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    await replicas?.close();
  });

  test('a device uses only its own topics; wrong credentials are refused', async () => {
    const [d0, d1] = replicas.devices as [Credentials, Credentials];
    await assert.rejects(
      connectAs(replicas.mosquitto.url, d0.id, 'not-the-secret'),
      /Not authorized|Bad user/i,
    );
    await assert.rejects(connectAs(replicas.mosquitto.url, d0.id, d1.secret), /Not authorized|Bad user/i);
    const spy = await connectAs(replicas.mosquitto.hubUrl, HUB_USER, HUB_PASSWORD, 'spy-hub');
    clients.push(spy);
    const seen: string[] = [];
    spy.on('message', (topic, payload) => seen.push(`${topic} ${payload}`));
    await spy.subscribeAsync(['outpost/v1/d/+/up', 'outpost/v1/d/+/ack', 'outpost/v1/d/+/desired'], {
      qos: 1,
    });
    const device = await connectAs(replicas.mosquitto.url, d0.id, d0.secret);
    clients.push(device);
    // Mosquitto 2.0 grants a SUBSCRIBE and filters on delivery with the `read` rules: what
    // counts is that another device's downlink never arrives.
    const got: string[] = [];
    device.on('message', (topic, payload) => got.push(`${topic} ${payload}`));
    await subscribeGranted(device, [
      deviceTopic(d0.id, 'ack'),
      deviceTopic(d1.id, 'ack'),
      'outpost/v1/d/+/desired',
    ]);
    await spy.publishAsync(deviceTopic(d1.id, 'ack'), 'other-ack', { qos: 1 });
    await spy.publishAsync(deviceTopic(d1.id, 'desired'), 'other-desired', { qos: 1 });
    await spy.publishAsync(deviceTopic(d0.id, 'ack'), 'own-ack', { qos: 1 });
    await waitFor(() => got.some((m) => m.endsWith(' own-ack')), 'the device to receive its own ack');
    assert.deepEqual(
      got.filter((m) => m.includes('other')),
      [],
      "another device's downlink never reached this one",
    );
    // Forged: another device's uplink, and a hub-only downlink. Then one allowed marker.
    await device.publishAsync(deviceTopic(d1.id, 'up'), 'forged-up', { qos: 1 });
    await device.publishAsync(deviceTopic(d0.id, 'ack'), 'forged-ack', { qos: 1 });
    await device.publishAsync(deviceTopic(d0.id, 'desired'), 'forged-desired', { qos: 1 });
    await device.publishAsync(deviceTopic(d0.id, 'up'), 'marker', { qos: 1 });
    await waitFor(() => seen.some((m) => m.endsWith(' marker')), 'the allowed publish to reach the hub user');
    assert.deepEqual(
      seen.filter((m) => m.includes('forged')),
      [],
      'the broker dropped every publish outside the device topics',
    );
    await device.endAsync(true);
  });

  test('two replicas split the uplink through the shared subscription: every event stored once', async () => {
    const batchesPerDevice = 8;
    const perBatch = 5;
    const senders = await Promise.all(
      replicas.devices.map(async (creds) => {
        const client = await connectAs(replicas.mosquitto.url, creds.id, creds.secret);
        clients.push(client);
        const acks: Array<{ batchId: string; hwm: number }> = [];
        client.on('message', (_t, payload) => acks.push(JSON.parse(payload.toString())));
        await client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
        return { creds, client, acks };
      }),
    );
    await Promise.all(
      senders.map(async ({ creds, client, acks }) => {
        for (let b = 0; b < batchesPerDevice; b++) {
          const batch = makeBatch('epochshare', 1 + b * perBatch, perBatch, `${creds.id}-b${b}`);
          await client.publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
          await waitFor(
            () => acks.some((a) => a.batchId === batch.batchId),
            `ack of ${batch.batchId}`,
            30_000,
          );
        }
      }),
    );
    const total = replicas.devices.length * batchesPerDevice * perBatch;
    const [a, b] = replicas.hubs.map((h) => h.stats().ingest) as [HubStats['ingest'], HubStats['ingest']];
    assert.equal(a.stored + b.stored, total, 'together the replicas stored every event');
    assert.equal(a.duplicates + b.duplicates, 0, 'no event reached both replicas');
    assert.ok(
      a.batches > 0 && b.batches > 0,
      `each replica took a share (${a.batches} and ${b.batches} batches)`,
    );
    const store = (replicas.hubs[0] as Hub).store;
    assert.equal(await store.countEvents(), total);
    for (const creds of replicas.devices) {
      const events = await store.listEvents(creds.id, { epoch: 'epochshare', limit: 1000 });
      assert.deepEqual(
        events.map((e) => e.seq),
        Array.from({ length: batchesPerDevice * perBatch }, (_, i) => i + 1),
      );
    }
  });

  test('a replica started later keeps devices online: the retained status tells the truth', async () => {
    const creds = replicas.devices[2] as Credentials;
    const client = await loginDevice(replicas.mosquitto.url, creds, {
      will: {
        topic: deviceTopic(creds.id, 'status'),
        payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline', conn: 'c-late', at: Date.now() })),
        qos: 1,
        retain: true,
      },
    });
    clients.push(client);
    const online = { v: 1, state: 'online', conn: 'c-late', at: Date.now() };
    await client.publishAsync(deviceTopic(creds.id, 'status'), JSON.stringify(online), {
      qos: 1,
      retain: true,
    });
    const store = (replicas.hubs[0] as Hub).store;
    await waitFor(async () => (await store.getDevice(creds.id))?.online === true, 'the device online');
    const late = await replicas.startReplica();
    // Started with an external broker, it did not mark anyone offline (an embedded one would).
    assert.equal((await late.store.getDevice(creds.id))?.online, true);
    // Its will (the connection dies without DISCONNECT) marks it offline through the replicas.
    client.stream.destroy();
    await waitFor(
      async () => (await store.getDevice(creds.id))?.online === false,
      'the will to mark it offline',
    );
  });
});
