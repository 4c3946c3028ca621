import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceTopic, PROTOCOL } from '../../shared/index.js';
import {
  api,
  type HubWithDevice,
  makeBatch,
  sendBatch,
  startHubWithDevice,
  waitFor,
} from '../helpers/hub.js';

const lane = { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 };

describe('hub: devices of the previous and the next protocol minor', () => {
  let fixture: HubWithDevice;
  before(async () => {
    fixture = await startHubWithDevice();
  });
  after(() => fixture?.close());

  const stats = async () => (await api(fixture.hub, 'GET', '/v1/stats')).body;
  const listed = async () =>
    (await api(fixture.hub, 'GET', '/v1/devices')).body.devices.find(
      (d: { id: string }) => d.id === fixture.creds.id,
    );

  test('a device that never named a minor (the previous release) gets acks without pv', async () => {
    const ack = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochcompat', 1, 2, 'old-1'));
    assert.equal(ack.hwm, 2);
    assert.equal('pv' in ack, false);
  });

  test('a next-minor reported state with a new lane and field is kept; the extras are counted', async () => {
    const state = {
      v: 1,
      pv: '1.2',
      at: Date.now(),
      agentVersion: '0.3.0',
      epoch: 'epochcompat',
      startedAt: 42,
      appliedRev: 0,
      config: {},
      outbox: { video: { pending: 0, enqueued: 0, acked: 0 } },
      ledger: { results: lane, video: lane },
      power: { battery: 0.5 },
    };
    await fixture.device.client.publishAsync(deviceTopic(fixture.creds.id, 'state'), JSON.stringify(state), {
      qos: 1,
    });
    const reported = await waitFor(async () => {
      const d = await listed();
      return d.reported?.startedAt === 42 ? d.reported : undefined;
    }, 'the next-minor reported state');
    assert.deepEqual(reported.ledger, { results: lane });
    const { tolerated, rejected } = await stats();
    assert.equal(tolerated.byItem['lane video'], 1);
    assert.equal(tolerated.byItem['field power'], 1);
    assert.equal(rejected.byReason['state.invalid'], undefined);
  });

  test('a telemetry kind this hub does not fold is stored and counted', async () => {
    const batch = makeBatch('epochcompat', 1, 2, 'kinds', 'telemetry');
    (batch.events[1] as { type: string }).type = 'telemetry.power';
    const ack = await sendBatch(fixture.device, fixture.creds.id, batch);
    assert.equal(ack.stored, 2);
    const { byItem } = (await stats()).tolerated;
    assert.equal(byItem['telemetry telemetry.power'], 1);
    assert.equal(
      byItem['telemetry test.event'],
      undefined,
      'an application event type is not a telemetry kind',
    );
  });

  test('once the device named its minor, acks and pongs carry this hub’s', async () => {
    const ack = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochcompat', 3, 1, 'new-1'));
    assert.equal(ack.pv, PROTOCOL);
    await fixture.device.client.publishAsync(
      deviceTopic(fixture.creds.id, 'ping'),
      JSON.stringify({ v: 1, pv: '1.2', id: 'p-1', at: Date.now() }),
    );
    const pong = await waitFor(
      () => fixture.device.received(deviceTopic(fixture.creds.id, 'ack')).find((m) => m.pong === 'p-1'),
      'the pong',
    );
    assert.equal(pong.pv, PROTOCOL);
  });

  test('a newer-major batch is refused, and the device is told why on its ack topic', async () => {
    const batch = { ...makeBatch('epochcompat', 4, 1, 'major-2'), v: 2, pv: '2.0' };
    await fixture.device.client.publishAsync(deviceTopic(fixture.creds.id, 'up'), JSON.stringify(batch), {
      qos: 1,
    });
    const refusal = await waitFor(
      () => fixture.device.received(deviceTopic(fixture.creds.id, 'ack')).find((m) => m.refused === 'up'),
      'the refusal',
    );
    assert.match(refusal.reason, /^protocol 2\.0 is not served: this side speaks 1\.1/);
    assert.equal((await stats()).rejected.byReason['up.unserved'], 1);
    // Nothing of it was stored: the next batch of the served version continues at seq 4.
    const ack = await sendBatch(fixture.device, fixture.creds.id, {
      ...makeBatch('epochcompat', 4, 1, 'new-2'),
      pv: '1.1',
    });
    assert.deepEqual([ack.hwm, ack.stored], [4, 1]);
  });
});
