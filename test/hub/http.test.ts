import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closeClient,
  connectDevice,
  enroll,
  startHub,
  type TestDevice,
  tempDir,
  waitFor,
} from '../helpers/hub.js';

describe('hub: HTTP API', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  const open: TestDevice[] = [];

  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path, { http: { bodyLimitBytes: 2048 } });
  });

  after(async () => {
    for (const d of open) await closeClient(d.client);
    await hub?.close();
    await dir?.remove();
  });

  test('the admin token is created in the data dir with mode 0600', async () => {
    const info = await stat(join(dir.path, 'admin-token'));
    assert.equal(info.mode & 0o777, 0o600);
    assert.ok(hub.adminToken.length >= 32);
  });

  test('a configured admin token is used as is', async () => {
    const other = await tempDir();
    const configured = await startHub(other.path, { adminToken: 'a-configured-admin-token' });
    try {
      assert.equal(configured.adminToken, 'a-configured-admin-token');
      assert.equal((await api(configured, 'GET', '/v1/devices')).status, 200);
      await assert.rejects(stat(join(other.path, 'admin-token')), { code: 'ENOENT' });
    } finally {
      await configured.close();
      await other.remove();
    }
  });

  test('a start that fails part-way (MQTT port taken) rejects and releases what it opened', async () => {
    const other = await tempDir();
    try {
      await assert.rejects(startHub(other.path, { mqtt: { port: hub.mqtt.port } }), { code: 'EADDRINUSE' });
      // The same data dir still serves; the failed hub's HTTP listener, left open, would keep
      // this test process from exiting.
      const retry = await startHub(other.path);
      assert.equal((await api(retry, 'GET', '/healthz', undefined, null)).status, 200);
      await retry.close();
    } finally {
      await other.remove();
    }
  });

  test('enrollment returns the secret once, with the broker URL; the hash never leaves', async () => {
    const res = await api(hub, 'POST', '/v1/devices', { name: 'camera 1', labels: { site: 'north' } });
    assert.equal(res.status, 201);
    assert.match(res.body.id, /^dev-[0-9a-f]{16}$/);
    assert.match(res.body.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body.mqtt.url, hub.mqtt.url);
    const one = await api(hub, 'GET', `/v1/devices/${res.body.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(
      {
        name: one.body.name,
        labels: one.body.labels,
        online: one.body.online,
        desiredRev: one.body.desiredRev,
      },
      { name: 'camera 1', labels: { site: 'north' }, online: false, desiredRev: 0 },
    );
    assert.equal(one.body.desired, null);
    assert.equal(typeof one.body.createdAt, 'number');
    const text = JSON.stringify([one.body, (await api(hub, 'GET', '/v1/devices')).body]);
    assert.ok(!text.includes(res.body.secret) && !text.includes('scrypt'), 'no secret or hash in views');
    const stored = await hub.store.getDevice(res.body.id);
    assert.ok(stored?.secretHash.startsWith('scrypt$'));
    assert.ok(!stored?.secretHash.includes(res.body.secret));
  });

  test('a duplicate id answers 409 HUB_DEVICE_EXISTS', async () => {
    assert.equal((await api(hub, 'POST', '/v1/devices', { id: 'twin' })).status, 201);
    const res = await api(hub, 'POST', '/v1/devices', { id: 'twin' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'HUB_DEVICE_EXISTS');
  });

  test('invalid bodies answer 400 HUB_BAD_REQUEST listing every path and problem', async () => {
    const res = await api(hub, 'POST', '/v1/devices', { id: 'bad/id', labels: { k: 1 }, extra: true });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'HUB_BAD_REQUEST');
    assert.match(res.body.error.message, /id: /);
    assert.match(res.body.error.message, /labels\.k: /);
    assert.match(res.body.error.message, /extra/);
    const notJson = await fetch(`${hub.http.url}/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
      body: '{oops',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'HUB_BAD_REQUEST');
    const tooBig = await api(hub, 'POST', '/v1/devices', { name: 'x'.repeat(4096) });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'PROTO_PAYLOAD_TOO_LARGE');
  });

  test('unknown routes and devices answer 404 in the error shape', async () => {
    const route = await api(hub, 'GET', '/nope', undefined, null);
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'HUB_NOT_FOUND');
    for (const path of ['/v1/devices/ghost', '/v1/devices/ghost/desired', '/v1/devices/ghost/events']) {
      const res = await api(hub, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'HUB_DEVICE_NOT_FOUND');
    }
    const put = await api(hub, 'PUT', '/v1/devices/ghost/desired', { config: {} });
    assert.equal(put.body.error.code, 'HUB_DEVICE_NOT_FOUND');
    const cmd = await api(hub, 'POST', '/v1/devices/ghost/commands', { name: 'ping' });
    assert.equal(cmd.body.error.code, 'HUB_DEVICE_NOT_FOUND');
  });

  test('desired state: rev grows by one, is published retained and readable', async () => {
    const creds = await enroll(hub, { id: 'desired-device' });
    const none = await api(hub, 'GET', `/v1/devices/${creds.id}/desired`);
    assert.equal(none.status, 404);
    const first = await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, { config: { logLevel: 'debug' } });
    assert.equal(first.status, 200);
    assert.deepEqual([first.body.v, first.body.rev, first.body.config], [1, 1, { logLevel: 'debug' }]);
    const second = await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, {
      config: { reportIntervalS: 60 },
    });
    assert.equal(second.body.rev, 2);
    const bad = await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, { config: { reportIntervalS: 1 } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /config\.reportIntervalS: /);
    assert.deepEqual((await api(hub, 'GET', `/v1/devices/${creds.id}/desired`)).body, second.body);
    assert.equal((await api(hub, 'GET', `/v1/devices/${creds.id}`)).body.desiredRev, 2);

    // Subscribing later still gets the latest revision: it is retained.
    const device = await connectDevice(hub, creds);
    open.push(device);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'desired'), { qos: 1 });
    const got = await waitFor(() => device.received(deviceTopic(creds.id, 'desired'))[0], 'retained desired');
    assert.deepEqual(got, second.body);
  });

  test('commands are published on the device cmd topic and answered 202 with their id', async () => {
    const creds = await enroll(hub, { id: 'command-device' });
    const device = await connectDevice(hub, creds);
    open.push(device);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'cmd'), { qos: 1 });
    const res = await api(hub, 'POST', `/v1/devices/${creds.id}/commands`, { name: 'ping', args: { n: 1 } });
    assert.equal(res.status, 202);
    const cmd = await waitFor(() => device.received(deviceTopic(creds.id, 'cmd'))[0], 'command');
    assert.deepEqual([cmd.v, cmd.id, cmd.name, cmd.args], [1, res.body.id, 'ping', { n: 1 }]);
    const unknown = await api(hub, 'POST', `/v1/devices/${creds.id}/commands`, { name: 'self-destruct' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /name: /);
  });
});
