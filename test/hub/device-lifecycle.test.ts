import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mosquittoHash } from '../../hub/broker/mosquitto-passwd.js';
import { HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closeClient,
  closed,
  connectDevice,
  enroll,
  type HubForCli,
  makeBatch,
  sendBatch,
  startHubForCli,
  tempDir,
  within,
} from '../helpers/hub.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

// disable / enable / rotate-secret / remove: the live connection is cut and reconnects are
// refused at once on the embedded broker; an external broker's password file drops the device.

describe('device lifecycle on the embedded broker', () => {
  let fixture: HubForCli;
  before(async () => {
    fixture = await startHubForCli();
  });
  after(() => fixture?.close());

  test('disable cuts the connection and refuses reconnects; enable lets the same secret in', async () => {
    const creds = await enroll(fixture.hub, { id: 'life-1' });
    const device = await connectDevice(fixture.hub, creds);
    const gone = closed(device.client);
    const res = await runBuiltCli(['devices', 'disable', 'life-1'], fixture.env);
    assert.equal(res.code, 0, res.stderr);
    await within(gone, 'the disabled device to be disconnected');
    await assert.rejects(connectDevice(fixture.hub, creds), /Bad username or password|Not authorized/i);
    const listed = (await api(fixture.hub, 'GET', '/v1/devices/life-1')).body;
    assert.equal(listed.disabled, true);
    assert.equal((await runBuiltCli(['devices', 'enable', 'life-1'], fixture.env)).code, 0);
    const again = await connectDevice(fixture.hub, creds);
    await closeClient(again.client);
  });

  test('rotate-secret refuses the old secret and accepts the new one', async () => {
    const creds = await enroll(fixture.hub, { id: 'life-2' });
    const device = await connectDevice(fixture.hub, creds);
    const gone = closed(device.client);
    const res = await runBuiltCli(['devices', 'rotate-secret', 'life-2', '--json'], fixture.env);
    assert.equal(res.code, 0, res.stderr);
    const { secret, joinToken } = JSON.parse(res.stdout);
    assert.match(joinToken, /^outpost-join-1\./);
    await within(gone, 'the device on the old secret to be disconnected');
    await assert.rejects(connectDevice(fixture.hub, creds), /Bad username or password/i);
    await closeClient((await connectDevice(fixture.hub, { id: 'life-2', secret })).client);
  });

  test('remove cuts the device off and refuses it, keeping its data; --purge deletes it', async () => {
    const creds = await enroll(fixture.hub, { id: 'life-3' });
    const device = await connectDevice(fixture.hub, creds);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
    const ack = await sendBatch(device, creds.id, makeBatch('epochlife3', 1, 2, 'b-life-3', 'telemetry'));
    assert.equal(ack.hwm, 2);
    const gone = closed(device.client);
    const removed = await runBuiltCli(['devices', 'remove', 'life-3'], fixture.env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed life-3 \(its data kept\)/);
    await within(gone, 'the removed device to be disconnected');
    await assert.rejects(connectDevice(fixture.hub, creds), /Bad username or password/i);
    const kept = await api(fixture.hub, 'GET', '/v1/devices/life-3');
    assert.equal(kept.status, 200);
    assert.equal(typeof kept.body.removedAt, 'number');
    const events = await api(fixture.hub, 'GET', '/v1/devices/life-3/events');
    assert.deepEqual(
      events.body.events.map((e: { lane: string; seq: number }) => `${e.lane}:${e.seq}`),
      ['telemetry:1', 'telemetry:2'],
    );
    assert.match(
      (await runBuiltCli(['devices', 'show', 'life-3'], fixture.env)).stdout,
      /removed .* \(data kept\)/,
    );
    const listed = (await api(fixture.hub, 'GET', '/v1/devices')).body.devices.map(
      (d: { id: string }) => d.id,
    );
    assert.ok(!listed.includes('life-3'), 'a removed device is not in the fleet');
    assert.equal((await api(fixture.hub, 'POST', '/v1/devices/life-3/enable')).status, 404);
    const again = await runBuiltCli(['devices', 'remove', 'life-3'], fixture.env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already removed/);

    const purged = await runBuiltCli(['devices', 'remove', 'life-3', '--purge', '--json'], fixture.env);
    assert.equal(purged.code, 0, purged.stderr);
    assert.deepEqual(JSON.parse(purged.stdout), { id: 'life-3', removed: true, purged: true });
    assert.equal((await api(fixture.hub, 'GET', '/v1/devices/life-3')).status, 404);
    assert.equal(await fixture.hub.store.countEvents('life-3'), 0);
    const missing = await runBuiltCli(['devices', 'remove', 'life-3', '--purge'], fixture.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HUB_DEVICE_NOT_FOUND/);
  });
});

test("an external broker's password file leaves a disabled device out", async () => {
  const dir = await tempDir();
  const auth = await tempDir('outpost-broker-auth-');
  const store = await openHubStore(HubConfigSchema.parse({ dataDir: dir.path }));
  try {
    for (const id of ['ext-a', 'ext-b']) {
      await store.createDevice({ id, secretHash: 'scrypt$x', createdAt: 0 });
      await store.putBrokerHash(id, await mosquittoHash(`secret-of-${id}-0123456789`));
    }
    const b = (await store.listBrokerHashes()).find((h) => h.deviceId === 'ext-b')?.hash as string;
    await store.updateCredentials('ext-b', 'disabled:scrypt$x', `disabled:${b}`);
    await writeBrokerAuth(store, {
      dir: auth.path,
      hub: { username: 'outpost-hub', password: 'hub-password-0123456789' },
    });
    const passwd = readFileSync(join(auth.path, 'passwd'), 'utf8');
    assert.match(passwd, /^ext-a:/m);
    assert.doesNotMatch(passwd, /^ext-b:/m);
  } finally {
    await store.close();
    await dir.remove();
    await auth.remove();
  }
});
