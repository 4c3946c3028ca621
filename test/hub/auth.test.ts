import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { Hub } from '../../hub/index.js';
import {
  api,
  type Credentials,
  closeClient,
  connectDevice,
  enroll,
  startHub,
  type TestDevice,
  tempDir,
  waitFor,
} from '../helpers/hub.js';

describe('hub: device authentication and admin auth', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let creds: Credentials;
  const devices: TestDevice[] = [];

  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
    creds = await enroll(hub, { name: 'auth device' });
  });

  after(async () => {
    for (const d of devices) await closeClient(d.client);
    await hub?.close();
    await dir?.remove();
  });

  const refusal = async (options: mqtt.IClientOptions) => {
    const err = await mqtt
      .connectAsync(hub.mqtt.url, { protocolVersion: 4, reconnectPeriod: 0, ...options })
      .then(
        async (client) => {
          await client.endAsync(true);
          return undefined;
        },
        (e: unknown) => e as { code?: number },
      );
    assert.ok(err, 'connection should have been refused');
    return err.code;
  };

  test('a connect without credentials is refused (bad username or password)', async () => {
    assert.equal(await refusal({ clientId: creds.id }), 4);
  });

  test('a connect with a wrong secret is refused', async () => {
    assert.equal(await refusal({ clientId: creds.id, username: creds.id, password: 'wrong-secret' }), 4);
  });

  test('an unknown device is refused like a wrong secret', async () => {
    assert.equal(await refusal({ clientId: 'ghost', username: 'ghost', password: creds.secret }), 4);
  });

  test('a username that differs from the client id is not authorized', async () => {
    assert.equal(await refusal({ clientId: 'someone-else', username: creds.id, password: creds.secret }), 5);
  });

  test('refused connects are counted in the stats', async () => {
    const stats = await api(hub, 'GET', '/v1/stats');
    assert.equal(stats.status, 200);
    assert.equal(stats.body.rejected.byReason['connect.bad-credentials'], 3);
    assert.equal(stats.body.rejected.byReason['connect.not-authorized'], 1);
  });

  test('the right secret connects over TCP', async () => {
    const device = await connectDevice(hub, creds, { transport: 'tcp' });
    devices.push(device);
    assert.equal(device.client.connected, true);
    await closeClient(device.client);
  });

  test('the right secret connects over WebSocket on the HTTP port', async () => {
    assert.match(hub.ws.url, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    assert.equal(new URL(hub.ws.url).port, String(hub.http.port));
    const device = await connectDevice(hub, creds, { transport: 'ws' });
    devices.push(device);
    assert.equal(device.client.connected, true);
    // The TCP device above has gone; the broker counts exactly this one once it notices.
    await waitFor(
      async () => (await api(hub, 'GET', '/healthz', undefined, null)).body.broker.clients === 1,
      'one connected client',
    );
  });

  test('admin routes without a bearer token answer 401 HUB_UNAUTHORIZED', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/devices', undefined],
      ['POST', '/v1/devices', {}],
      ['GET', `/v1/devices/${creds.id}`, undefined],
      ['PUT', `/v1/devices/${creds.id}/desired`, { config: {} }],
      ['GET', '/v1/stats', undefined],
      ['GET', '/v1/no-such-route', undefined],
    ] as const) {
      const res = await api(hub, method, path, body, null);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.error.code, 'HUB_UNAUTHORIZED');
      assert.equal(typeof res.body.error.message, 'string');
    }
  });

  test('admin routes with a wrong bearer token answer 401 HUB_UNAUTHORIZED', async () => {
    for (const token of ['wrong-token-of-some-length', `${hub.adminToken}x`, hub.adminToken.slice(1), '']) {
      const res = await api(hub, 'GET', '/v1/devices', undefined, token);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'HUB_UNAUTHORIZED');
    }
    const basic = await fetch(`${hub.http.url}/v1/devices`, {
      headers: { authorization: `Basic ${hub.adminToken}` },
    });
    assert.equal(basic.status, 401);
  });

  test('the right bearer token is accepted and healthz needs none', async () => {
    const res = await api(hub, 'GET', '/v1/devices');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.devices.map((d: { id: string }) => d.id),
      [creds.id],
    );
    const health = await api(hub, 'GET', '/healthz', undefined, null);
    assert.equal(health.status, 200);
    assert.equal(health.body.ok, true);
    assert.equal(health.body.store, 'sqlite');
  });
});
