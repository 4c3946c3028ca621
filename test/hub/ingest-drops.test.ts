import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceTopic, type UplinkBatch } from '../../shared/index.js';
import {
  api,
  type HubWithDevice,
  makeBatch,
  sendBatch,
  startHubWithDevice,
  waitFor,
} from '../helpers/hub.js';

// Loss ledger at the hub: a batch's `dropped` moves the high-water mark over seqs
// the agent dropped (so a drop never blocks the lane), records them as skipped, and the ack
// answers which seqs of the asked range were skipped and which the hub already held.

const EPOCH = 'epochdrops1';
const withDrop = (batch: UplinkBatch, from: number, through: number): UplinkBatch => ({
  ...batch,
  dropped: { from, through },
});

describe('hub over MQTT: drop answers, pings, the ledger view', () => {
  let fixture: HubWithDevice;
  before(async () => {
    fixture = await startHubWithDevice();
  });
  after(() => fixture?.close());

  test('the ack of a batch with `dropped` carries the answer and the skipped count', async () => {
    await sendBatch(fixture.device, fixture.creds.id, makeBatch(EPOCH, 1, 2, 'm1'));
    const ack = await sendBatch(
      fixture.device,
      fixture.creds.id,
      withDrop(makeBatch(EPOCH, 5, 1, 'm2'), 1, 4),
    );
    assert.deepEqual(
      [ack.hwm, ack.stored, ack.skipped, ack.dropped],
      [5, 1, 2, { from: 1, through: 4, skipped: [[3, 4]] }],
    );
    const stats = (await api(fixture.hub, 'GET', '/v1/stats')).body;
    assert.equal(stats.ingest.skipped, 2);
  });

  test('a ping is answered with a pong on ack; an invalid one is counted and dropped', async () => {
    const ack = deviceTopic(fixture.creds.id, 'ack');
    await fixture.device.client.publishAsync(
      deviceTopic(fixture.creds.id, 'ping'),
      JSON.stringify({ v: 1, id: 'p-1', at: 5 }),
    );
    const pong = await waitFor(() => fixture.device.received(ack).find((m) => m.pong === 'p-1'), 'pong');
    assert.equal(pong.v, 1);
    assert.equal(typeof pong.at, 'number');
    await fixture.device.client.publishAsync(deviceTopic(fixture.creds.id, 'ping'), '{"v":1}');
    await waitFor(
      async () => (await api(fixture.hub, 'GET', '/v1/stats')).body.rejected.byReason['ping.invalid'] === 1,
      'ping.invalid',
    );
    assert.equal((await api(fixture.hub, 'GET', '/v1/stats')).body.pings, 1);
    assert.equal(fixture.device.client.connected, true);
  });

  test('GET /v1/devices/:id shows the reported ledger next to what the hub skipped', async () => {
    const before = (await api(fixture.hub, 'GET', `/v1/devices/${fixture.creds.id}`)).body.ledger;
    assert.deepEqual(before.epoch, null, 'no report yet');
    assert.equal(before.lanes.results.skippedAtHub, 2, 'every epoch counts before the first report');
    const ledger = {
      results: { quota: { count: 2, bytes: 120 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 },
    };
    const state = {
      v: 1,
      at: 1,
      agentVersion: '0.1.0',
      epoch: EPOCH,
      startedAt: 1,
      appliedRev: 0,
      config: {},
      outbox: {},
      ledger,
    };
    await fixture.device.client.publishAsync(deviceTopic(fixture.creds.id, 'state'), JSON.stringify(state), {
      qos: 1,
    });
    const view = await waitFor(async () => {
      const body = (await api(fixture.hub, 'GET', `/v1/devices/${fixture.creds.id}`)).body;
      return body.ledger.epoch === EPOCH ? body.ledger : undefined;
    }, 'ledger reported');
    assert.deepEqual(view.lanes.results, { ...ledger.results, skippedAtHub: 2 });
    assert.deepEqual(view.lanes.telemetry, {
      quota: { count: 0, bytes: 0 },
      ttl: { count: 0, bytes: 0 },
      unconfirmed: 0,
      skippedAtHub: 0,
    });
    assert.equal(typeof view.reportedAt, 'number');
  });
});
