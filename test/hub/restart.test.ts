import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closeClient,
  connectDevice,
  enroll,
  makeBatch,
  sendBatch,
  startHub,
  type TestDevice,
  tempDir,
  waitFor,
} from '../helpers/hub.js';

describe('hub: restart on the same data dir', () => {
  const hubs: Hub[] = [];
  const open: TestDevice[] = [];
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;

  after(async () => {
    for (const d of open) await closeClient(d.client);
    for (const h of hubs) await h.close();
    await dir?.remove();
  });

  test('devices, desired state, events, high-water marks and the admin token survive', async () => {
    dir = await tempDir();
    const first = await startHub(dir.path);
    hubs.push(first);
    const creds = await enroll(first, { id: 'restart-device', name: 'kiosk', labels: { site: 'lab' } });
    const put = await api(first, 'PUT', `/v1/devices/${creds.id}/desired`, {
      config: { reportIntervalS: 30 },
    });
    assert.equal(put.body.rev, 1);
    const device = await connectDevice(first, creds);
    open.push(device);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
    const ack = await sendBatch(device, creds.id, makeBatch('epochrestart', 1, 3, 'before'));
    assert.equal(ack.hwm, 3);
    const token = first.adminToken;
    await first.close();
    await first.close(); // idempotent

    const second = await startHub(dir.path);
    hubs.push(second);
    assert.equal(second.adminToken, token, 'the admin token file is reused');

    const listed = await api(second, 'GET', '/v1/devices');
    assert.equal(listed.status, 200);
    assert.equal(listed.body.devices.length, 1);
    const d = listed.body.devices[0];
    assert.deepEqual(
      { id: d.id, name: d.name, labels: d.labels, desiredRev: d.desiredRev, online: d.online },
      { id: creds.id, name: 'kiosk', labels: { site: 'lab' }, desiredRev: 1, online: false },
    );
    const events = await api(second, 'GET', `/v1/devices/${creds.id}/events`);
    assert.deepEqual(
      events.body.events.map((e: { seq: number }) => e.seq),
      [1, 2, 3],
    );

    // The same secret still works, and the retained desired state was republished.
    const again = await connectDevice(second, creds, { transport: 'ws' });
    open.push(again);
    await again.client.subscribeAsync([deviceTopic(creds.id, 'desired'), deviceTopic(creds.id, 'ack')], {
      qos: 1,
    });
    const desired = await waitFor(
      () => again.received(deviceTopic(creds.id, 'desired'))[0],
      'retained desired',
    );
    assert.equal(desired.rev, 1);
    assert.deepEqual(desired.config, { reportIntervalS: 30 });

    // The high-water mark survived: a resend after the restart is a duplicate.
    const resend = await sendBatch(again, creds.id, makeBatch('epochrestart', 2, 3, 'after'));
    assert.deepEqual([resend.hwm, resend.stored, resend.duplicates], [4, 1, 2]);

    const put2 = await api(second, 'PUT', `/v1/devices/${creds.id}/desired`, { config: {} });
    assert.equal(put2.body.rev, 2);
  });
});
