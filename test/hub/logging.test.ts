import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  closed,
  connectDevice,
  enroll,
  type HubWithEnrolledDevice,
  makeBatch,
  sendBatch,
  startHubWithEnrolledDevice,
  waitFor,
  within,
} from '../helpers/hub.js';

describe('hub: logging and shutdown', () => {
  let fixture: HubWithEnrolledDevice;
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        raw += chunk.toString();
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    fixture = await startHubWithEnrolledDevice({ build: { logger: pino({ level: 'trace' }, sink) } });
  });

  after(() => fixture?.close());

  test('an empty enrollment body is accepted', async () => {
    const res = await api(fixture.hub, 'POST', '/v1/devices');
    assert.equal(res.status, 201);
  });

  test('an invalid payload is logged once per device and reason, with the reason, at warn', async () => {
    const device = await connectDevice(fixture.hub, fixture.creds);
    fixture.connected.push(device);
    await device.client.subscribeAsync(deviceTopic(fixture.creds.id, 'ack'), { qos: 1 });
    for (let i = 0; i < 3; i++)
      await device.client.publishAsync(deviceTopic(fixture.creds.id, 'up'), `{bad ${i}`, { qos: 1 });
    await waitFor(
      async () => (await api(fixture.hub, 'GET', '/v1/stats')).body.rejected.byReason['up.invalid'] === 3,
      '3 rejections',
    );
    // A valid batch afterwards: it is handled after the invalid ones, so their logging is done.
    await sendBatch(device, fixture.creds.id, makeBatch('epochlog01', 1, 1, 'ok'));
    const warnings = lines.filter((l) => l.reason === 'up.invalid');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, 40);
    assert.equal(warnings[0]?.component, 'protocol');
    assert.match(String(warnings[0]?.detail), /not JSON/);
  });

  test('close() ends connected TCP and WebSocket clients, and nothing secret was logged', async () => {
    const tcp = await connectDevice(fixture.hub, fixture.creds);
    const tcpGone = closed(tcp.client);
    const other = await enroll(fixture.hub, { id: 'ws-device' });
    const ws = await connectDevice(fixture.hub, other, { transport: 'ws' });
    const wsGone = closed(ws.client);
    fixture.connected.push(tcp, ws);
    await within(fixture.hub.close(), 'hub.close()');
    await within(Promise.all([tcpGone, wsGone]), 'clients to be disconnected');
    assert.ok(lines.some((l) => l.msg === 'hub closed'));
    for (const secret of [fixture.hub.adminToken, fixture.creds.secret, other.secret]) {
      assert.ok(!raw.includes(secret), 'a secret appeared in the logs');
    }
    assert.ok(lines.some((l) => l.component === 'admin' && String(l.msg).includes('admin token')));
  });
});
