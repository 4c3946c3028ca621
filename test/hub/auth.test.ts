import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import {
  api,
  closeClient,
  connectDevice,
  type HubWithEnrolledDevice,
  startHubWithEnrolledDevice,
  waitFor,
} from '../helpers/hub.js';

describe('hub: device authentication and admin auth', () => {
  let fixture: HubWithEnrolledDevice;
  before(async () => {
    fixture = await startHubWithEnrolledDevice({ enroll: { name: 'auth device' } });
  });
  after(() => fixture?.close());

  const refusal = async (options: mqtt.IClientOptions) => {
    const err = await mqtt
      .connectAsync(fixture.hub.mqtt.url, { protocolVersion: 4, reconnectPeriod: 0, ...options }, false)
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
    assert.equal(await refusal({ clientId: fixture.creds.id }), 4);
  });

  test('a connect with a wrong secret is refused', async () => {
    assert.equal(
      await refusal({ clientId: fixture.creds.id, username: fixture.creds.id, password: 'wrong-secret' }),
      4,
    );
  });

  test('an unknown device is refused like a wrong secret', async () => {
    assert.equal(await refusal({ clientId: 'ghost', username: 'ghost', password: fixture.creds.secret }), 4);
  });

  test('a username that differs from the client id is not authorized', async () => {
    assert.equal(
      await refusal({ clientId: 'someone-else', username: fixture.creds.id, password: fixture.creds.secret }),
      5,
    );
  });

  test('refused connects are counted in the stats', async () => {
    const stats = await api(fixture.hub, 'GET', '/v1/stats');
    assert.equal(stats.status, 200);
    assert.equal(stats.body.rejected.byReason['connect.bad-credentials'], 3);
    assert.equal(stats.body.rejected.byReason['connect.not-authorized'], 1);
  });

  test('the right secret connects over TCP', async () => {
    const device = await connectDevice(fixture.hub, fixture.creds, { transport: 'tcp' });
    fixture.connected.push(device);
    assert.equal(device.client.connected, true);
    await closeClient(device.client);
  });

  test('the right secret connects over WebSocket on the HTTP port', async () => {
    assert.match(fixture.hub.ws.url, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    assert.equal(new URL(fixture.hub.ws.url).port, String(fixture.hub.http.port));
    const device = await connectDevice(fixture.hub, fixture.creds, { transport: 'ws' });
    fixture.connected.push(device);
    assert.equal(device.client.connected, true);
    // The TCP device above has gone; the broker counts exactly this one once it notices.
    await waitFor(
      async () => (await api(fixture.hub, 'GET', '/healthz', undefined, null)).body.broker.clients === 1,
      'one connected client',
    );
  });

  test('admin routes without a bearer token answer 401 HUB_UNAUTHORIZED', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/devices', undefined],
      ['POST', '/v1/devices', {}],
      ['GET', `/v1/devices/${fixture.creds.id}`, undefined],
      ['PUT', `/v1/devices/${fixture.creds.id}/desired`, { config: {} }],
      ['GET', '/v1/stats', undefined],
      ['GET', '/v1/no-such-route', undefined],
    ] as const) {
      const res = await api(fixture.hub, method, path, body, null);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.error.code, 'HUB_UNAUTHORIZED');
      assert.equal(typeof res.body.error.message, 'string');
    }
  });

  test('admin routes with a wrong bearer token answer 401 HUB_UNAUTHORIZED', async () => {
    for (const token of [
      'wrong-token-of-some-length',
      `${fixture.hub.adminToken}x`,
      fixture.hub.adminToken.slice(1),
      '',
    ]) {
      const res = await api(fixture.hub, 'GET', '/v1/devices', undefined, token);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'HUB_UNAUTHORIZED');
    }
    const basic = await fetch(`${fixture.hub.http.url}/v1/devices`, {
      headers: { authorization: `Basic ${fixture.hub.adminToken}` },
    });
    assert.equal(basic.status, 401);
  });

  test('the right bearer token is accepted and healthz needs none', async () => {
    const res = await api(fixture.hub, 'GET', '/v1/devices');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.devices.map((d: { id: string }) => d.id),
      [fixture.creds.id],
    );
    const health = await api(fixture.hub, 'GET', '/healthz', undefined, null);
    assert.equal(health.status, 200);
    assert.equal(health.body.ok, true);
    assert.equal(health.body.store, 'sqlite');
  });
});
