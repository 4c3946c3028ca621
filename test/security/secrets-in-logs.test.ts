import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { closeClient, connectDevice, enroll, startHub, tempDir } from '../helpers/hub.js';

// Credentials never reach the logs — not the admin token, not a device's
// secret at enrollment, not a wrong password or token tried — even at `trace` level.

test('enrollment and failed authentications log no secret', async () => {
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  const dir = await tempDir();
  const adminToken = 'admin-token-that-must-never-be-logged';
  const hub = await startHub(
    dir.path,
    { adminToken, logLevel: 'trace' },
    { logger: pino({ level: 'trace' }, sink) },
  );
  let deviceSecret = '';
  try {
    const creds = await enroll(hub, { name: 'logged-device' });
    deviceSecret = creds.secret;
    const wrongToken = 'wrong-admin-token-also-secret';
    const denied = await fetch(`${hub.http.url}/v1/devices`, {
      headers: { authorization: `Bearer ${wrongToken}` },
    });
    assert.equal(denied.status, 401);
    const wrongPassword = 'wrong-device-password-secret';
    await assert.rejects(
      mqtt.connectAsync(
        hub.mqtt.url,
        {
          clientId: creds.id,
          username: creds.id,
          password: wrongPassword,
          reconnectPeriod: 0,
        },
        false,
      ),
    );
    const device = await connectDevice(hub, creds);
    await closeClient(device.client);
    const inferDenied = await fetch(`${hub.http.url}/v1/infer/none`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.id}:${wrongPassword}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.ok(inferDenied.status >= 400);
  } finally {
    await hub.close();
    await dir.remove();
  }
  assert.match(logged, /device enrolled/, 'the capture saw the hub logging');
  assert.match(logged, /connect\.bad-credentials/, 'the refused CONNECT was logged');
  for (const secret of [adminToken, 'wrong-admin-token-also-secret', 'wrong-device-password-secret']) {
    assert.equal(logged.includes(secret), false, `the log contains ${secret}`);
  }
  assert.equal(deviceSecret.length, 43);
  assert.equal(logged.includes(deviceSecret), false, "the log contains the device's secret");
});
