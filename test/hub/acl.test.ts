import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  type Credentials,
  closeClient,
  closed,
  connectDevice,
  enroll,
  makeBatch,
  sendBatch,
  startHub,
  subscribeGranted,
  type TestDevice,
  tempDir,
  waitFor,
  within,
} from '../helpers/hub.js';

describe('hub: per-device ACL in the embedded broker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let a: Credentials;
  let b: Credentials;
  const open: TestDevice[] = [];

  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
    a = await enroll(hub, { id: 'device-a' });
    b = await enroll(hub, { id: 'device-b' });
  });

  after(async () => {
    for (const d of open) await closeClient(d.client);
    await hub?.close();
    await dir?.remove();
  });

  const rejected = async (reason: string): Promise<number> =>
    (await api(hub, 'GET', '/v1/stats')).body.rejected.byReason[reason] ?? 0;

  test("A's publish to B's up is refused: A is disconnected, nothing reaches B's side", async () => {
    const devB = await connectDevice(hub, b);
    open.push(devB);
    await devB.client.subscribeAsync(deviceTopic(b.id, 'ack'), { qos: 1 });
    const devA = await connectDevice(hub, a);
    open.push(devA);

    const gone = closed(devA.client);
    // QoS 0 so that mqtt.js does not wait for a PUBACK that never comes.
    devA.client.publish(deviceTopic(b.id, 'up'), JSON.stringify(makeBatch('epochshared', 1, 1, 'from-a')));
    await within(gone, 'the broker to drop the connection');
    assert.equal(devA.client.connected, false);
    assert.equal(await rejected('acl.publish'), 1);

    // B sends seq 1 of the same epoch: had A's event been stored, this would be a duplicate.
    const ack = await sendBatch(devB, b.id, makeBatch('epochshared', 1, 1, 'from-b'));
    assert.deepEqual(
      { hwm: ack.hwm, stored: ack.stored, duplicates: ack.duplicates },
      { hwm: 1, stored: 1, duplicates: 0 },
    );
    const events = await api(hub, 'GET', `/v1/devices/${b.id}/events`);
    assert.equal(events.body.events.length, 1);
    assert.equal(await hub.store.countEvents(a.id), 0);
    // B only ever saw the ack of its own batch.
    assert.deepEqual(
      devB.received(deviceTopic(b.id, 'ack')).map((x) => x.batchId),
      ['from-b'],
    );
  });

  test('a device may not publish to topics outside its own up/state/status/ping', async () => {
    for (const topic of [deviceTopic(a.id, 'ack'), deviceTopic(a.id, 'desired'), 'outpost/v1/other', 'x']) {
      const devA = await connectDevice(hub, a);
      open.push(devA);
      const before = await rejected('acl.publish');
      const gone = closed(devA.client);
      devA.client.publish(topic, '{}');
      await within(gone, 'the broker to drop the connection');
      assert.equal(await rejected('acl.publish'), before + 1, topic);
    }
  });

  test('a device pings on its own ping topic and gets the pong on its own ack; never on another', async () => {
    const devA = await connectDevice(hub, a);
    open.push(devA);
    await devA.client.subscribeAsync(deviceTopic(a.id, 'ack'), { qos: 1 });
    await devA.client.publishAsync(deviceTopic(a.id, 'ping'), JSON.stringify({ v: 1, id: 'acl-1', at: 1 }));
    await waitFor(() => devA.received(deviceTopic(a.id, 'ack')).some((m) => m.pong === 'acl-1'), 'pong');
    const before = await rejected('acl.publish');
    const gone = closed(devA.client);
    devA.client.publish(deviceTopic(b.id, 'ping'), JSON.stringify({ v: 1, id: 'acl-2', at: 1 }));
    await within(gone, 'the broker to drop the connection');
    assert.equal(await rejected('acl.publish'), before + 1);
  });

  test("A's subscribe to B's desired fails in the SUBACK and A never receives it", async () => {
    const devA = await connectDevice(hub, a);
    open.push(devA);
    const denied = await subscribeGranted(devA.client, [
      deviceTopic(b.id, 'desired'),
      'outpost/v1/d/+/desired',
      'outpost/#',
      '#',
    ]);
    assert.deepEqual(denied, [128, 128, 128, 128]);
    assert.equal(await rejected('acl.subscribe'), 4);
    assert.deepEqual(await subscribeGranted(devA.client, [deviceTopic(a.id, 'desired')]), [1]);
    assert.equal(devA.client.connected, true);

    const devB = await connectDevice(hub, b);
    open.push(devB);
    await devB.client.subscribeAsync(deviceTopic(b.id, 'desired'), { qos: 1 });
    const putB = await api(hub, 'PUT', `/v1/devices/${b.id}/desired`, { config: { logLevel: 'debug' } });
    assert.equal(putB.status, 200);
    await waitFor(() => devB.received(deviceTopic(b.id, 'desired')).length === 1, "B's desired");
    // A's own desired is published after B's: once A has it, B's would have arrived before.
    const putA = await api(hub, 'PUT', `/v1/devices/${a.id}/desired`, { config: { logLevel: 'warn' } });
    assert.equal(putA.status, 200);
    await waitFor(() => devA.received(deviceTopic(a.id, 'desired')).length === 1, "A's desired");
    assert.deepEqual(
      devA.messages.map((m) => m.topic),
      [deviceTopic(a.id, 'desired')],
    );
    assert.equal(devA.received(deviceTopic(a.id, 'desired'))[0].config.logLevel, 'warn');
  });
});
