import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closeClient,
  closed,
  connectDevice,
  type HubWithEnrolledDevice,
  startHubWithEnrolledDevice,
  type TestDevice,
  waitFor,
  within,
} from '../helpers/hub.js';

const status = (state: 'online' | 'offline', conn: string) =>
  JSON.stringify({ v: 1, state, conn, at: Date.now() });

const reported = (n: number) =>
  JSON.stringify({
    v: 1,
    at: Date.now(),
    agentVersion: '0.0.0-test',
    epoch: 'epochstatus',
    startedAt: n,
    appliedRev: 0,
    config: {},
    outbox: {},
  });

describe('hub: online / offline status', () => {
  let fixture: HubWithEnrolledDevice;
  before(async () => {
    fixture = await startHubWithEnrolledDevice({ enroll: { id: 'status-device' } });
  });
  after(() => fixture?.close());

  const listed = async () => {
    const res = await api(fixture.hub, 'GET', '/v1/devices');
    return res.body.devices.find((d: { id: string }) => d.id === fixture.creds.id);
  };

  /** Connects with the agent's pattern: will = offline for this connection, then online. */
  const connectWithWill = async (conn: string) => {
    const device = await connectDevice(fixture.hub, fixture.creds, {
      will: {
        topic: deviceTopic(fixture.creds.id, 'status'),
        payload: Buffer.from(status('offline', conn)),
        qos: 1,
        retain: true,
      },
    });
    fixture.connected.push(device);
    await device.client.publishAsync(deviceTopic(fixture.creds.id, 'status'), status('online', conn), {
      qos: 1,
      retain: true,
    });
    return device;
  };

  /** Publishes a reported state and waits until the hub has it: every earlier message is handled. */
  let marker = 0;
  const barrier = async (device: TestDevice) => {
    const n = ++marker;
    await device.client.publishAsync(deviceTopic(fixture.creds.id, 'state'), reported(n), { qos: 1 });
    await waitFor(async () => (await listed()).reported?.startedAt === n, `reported state ${n}`);
  };

  test('a device killed without DISCONNECT goes offline through its last will', async () => {
    const before = await listed();
    assert.equal(before.online, false);
    assert.equal(before.lastSeen, null);
    const device = await connectWithWill('conn-1');
    const online = await waitFor(async () => {
      const d = await listed();
      return d.online && d;
    }, 'online');
    assert.equal(typeof online.lastSeen, 'number');

    const gone = closed(device.client);
    device.client.stream.destroy();
    await within(gone, 'the broker to drop the connection');
    await waitFor(async () => (await listed()).online === false, 'offline after the socket died');
  });

  test('a stale will from an older connection does not mark a newer connection offline', async () => {
    const device = await connectWithWill('conn-2');
    await waitFor(
      async () => (await fixture.hub.store.getDevice(fixture.creds.id))?.conn === 'conn-2',
      'conn-2 online',
    );
    // A late will of the earlier connection (as an external broker may deliver it).
    await device.client.publishAsync(deviceTopic(fixture.creds.id, 'status'), status('offline', 'conn-1'), {
      qos: 1,
    });
    await barrier(device);
    assert.equal((await listed()).online, true);

    // The current connection's own offline still counts.
    await device.client.publishAsync(deviceTopic(fixture.creds.id, 'status'), status('offline', 'conn-2'), {
      qos: 1,
    });
    await barrier(device);
    assert.equal((await listed()).online, false);
    await closeClient(device.client);
  });

  test('a takeover by a new connection leaves the device online', async () => {
    const first = await connectWithWill('conn-3');
    await waitFor(
      async () => (await fixture.hub.store.getDevice(fixture.creds.id))?.conn === 'conn-3',
      'conn-3 online',
    );
    const firstClosed = closed(first.client);
    // Same client id: the broker drops the first connection, whose will says offline conn-3.
    const second = await connectWithWill('conn-4');
    await within(firstClosed, 'the first connection to be taken over');
    await waitFor(
      async () => (await fixture.hub.store.getDevice(fixture.creds.id))?.conn === 'conn-4',
      'conn-4 online',
    );
    await barrier(second);
    const device = await fixture.hub.store.getDevice(fixture.creds.id);
    assert.equal(device?.online, true);
    assert.equal(device?.conn, 'conn-4');
    await closeClient(second.client);
  });

  test('a clean DISCONNECT (no will is sent) of the current connection marks it offline', async () => {
    const device = await connectDevice(fixture.hub, fixture.creds);
    fixture.connected.push(device);
    await device.client.publishAsync(deviceTopic(fixture.creds.id, 'status'), status('online', 'conn-5'), {
      qos: 1,
    });
    await waitFor(async () => (await listed()).online, 'conn-5 online');
    await device.client.endAsync();
    await waitFor(async () => (await listed()).online === false, 'offline after DISCONNECT');
  });
});
