import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
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
  type TestDevice,
  tempDir,
  waitFor,
  within,
} from '../helpers/hub.js';

describe('hub: logging and shutdown', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let creds: Credentials;
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const open: TestDevice[] = [];

  before(async () => {
    dir = await tempDir();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        raw += chunk.toString();
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    hub = await startHub(dir.path, {}, { logger: pino({ level: 'trace' }, sink) });
    creds = await enroll(hub);
  });

  after(async () => {
    for (const d of open) await closeClient(d.client);
    await hub?.close();
    await dir?.remove();
  });

  test('an empty enrollment body is accepted', async () => {
    const res = await api(hub, 'POST', '/v1/devices');
    assert.equal(res.status, 201);
  });

  test('an invalid payload is logged once per device and reason, with the reason, at warn', async () => {
    const device = await connectDevice(hub, creds);
    open.push(device);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
    for (let i = 0; i < 3; i++)
      await device.client.publishAsync(deviceTopic(creds.id, 'up'), `{bad ${i}`, { qos: 1 });
    await waitFor(
      async () => (await api(hub, 'GET', '/v1/stats')).body.rejected.byReason['up.invalid'] === 3,
      '3 rejections',
    );
    // A valid batch afterwards: it is handled after the invalid ones, so their logging is done.
    await sendBatch(device, creds.id, makeBatch('epochlog01', 1, 1, 'ok'));
    const warnings = lines.filter((l) => l.reason === 'up.invalid');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, 40);
    assert.equal(warnings[0]?.component, 'protocol');
    assert.match(String(warnings[0]?.detail), /not JSON/);
  });

  test('close() ends connected TCP and WebSocket clients, and nothing secret was logged', async () => {
    const tcp = await connectDevice(hub, creds);
    const tcpGone = closed(tcp.client);
    const other = await enroll(hub, { id: 'ws-device' });
    const ws = await connectDevice(hub, other, { transport: 'ws' });
    const wsGone = closed(ws.client);
    open.push(tcp, ws);
    await within(hub.close(), 'hub.close()');
    await within(Promise.all([tcpGone, wsGone]), 'clients to be disconnected');
    assert.ok(lines.some((l) => l.msg === 'hub closed'));
    for (const secret of [hub.adminToken, creds.secret, other.secret]) {
      assert.ok(!raw.includes(secret), 'a secret appeared in the logs');
    }
    assert.ok(lines.some((l) => l.component === 'admin' && String(l.msg).includes('admin token')));
  });
});
