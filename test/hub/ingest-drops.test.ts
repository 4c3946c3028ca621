import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Hub, type HubStore, openSqliteHubStore } from '../../hub/index.js';
import { deviceTopic, MAX_SKIP_RANGES, type UplinkBatch } from '../../shared/index.js';
import {
  api,
  type Credentials,
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

// Issue 4, loss ledger at the hub: a batch's `dropped` moves the high-water mark over seqs
// the agent dropped (so a drop never blocks the lane), records them as skipped, and the ack
// answers which seqs of the asked range were skipped and which the hub already held.

const EPOCH = 'epochdrops1';
const withDrop = (batch: UplinkBatch, from: number, through: number): UplinkBatch => ({
  ...batch,
  dropped: { from, through },
});
const dropOnly = (from: number, through: number, batchId: string, lane: UplinkBatch['lane'] = 'results') => ({
  v: 1 as const,
  epoch: EPOCH,
  lane,
  batchId,
  events: [],
  dropped: { from, through },
});

describe('hub store: skipping dropped seqs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: HubStore;
  before(async () => {
    dir = await tempDir();
    store = openSqliteHubStore(dir.path);
    await store.createDevice({ id: 'd1', secretHash: 'x', createdAt: 1 });
  });
  after(async () => {
    await store?.close();
    await dir?.remove();
  });

  test('a drop moves the mark, stores the events after it, and answers the skipped range', async () => {
    const r = await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, 6, 2, 'a'), 1, 5), 10);
    assert.deepEqual(r, {
      hwm: 7,
      stored: 2,
      duplicates: 0,
      skipped: 5,
      dropped: { from: 1, through: 5, skipped: [[1, 5]] },
    });
    const events = await store.listEvents('d1', { epoch: EPOCH, lane: 'results', limit: 100 });
    assert.deepEqual(
      events.map((e) => e.seq),
      [6, 7],
    );
  });

  test('seqs the hub already held are not skipped, and a resent drop gets the same answer', async () => {
    await store.ingestBatch('d1', makeBatch(EPOCH, 1, 3, 'b', 'telemetry'), 10);
    const first = await store.ingestBatch('d1', dropOnly(1, 5, 'c', 'telemetry'), 11);
    assert.deepEqual(first, {
      hwm: 5,
      stored: 0,
      duplicates: 0,
      skipped: 2,
      dropped: { from: 1, through: 5, skipped: [[4, 5]] },
    });
    const again = await store.ingestBatch('d1', dropOnly(1, 5, 'd', 'telemetry'), 12);
    assert.deepEqual(again, { ...first, skipped: 0 }, 'idempotent: nothing skipped twice');
  });

  test('without `dropped` a gap is never skipped: a lost batch is waited for', async () => {
    const gap = await store.ingestBatch('d1', makeBatch(EPOCH, 10, 2, 'e', 'telemetry'), 13);
    assert.deepEqual(gap, { hwm: 5, stored: 0, duplicates: 0 });
  });

  test('adjacent skips merge; totals and ranges are listed per (epoch, lane)', async () => {
    await store.ingestBatch('d1', dropOnly(6, 8, 'f', 'telemetry'), 14);
    await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, 10, 1, 'g', 'telemetry'), 9, 9), 15);
    assert.deepEqual(
      (await store.listSkips('d1')).map((s) => [s.lane, s.from, s.to]),
      [
        ['results', 1, 5],
        ['telemetry', 4, 9],
      ],
    );
    assert.deepEqual(await store.skipTotals('d1'), [
      { epoch: EPOCH, lane: 'results', count: 5 },
      { epoch: EPOCH, lane: 'telemetry', count: 6 },
    ]);
    assert.deepEqual(await store.skipTotals('nobody'), []);
  });

  test('a long answer is cut short before the first range it leaves out', async () => {
    const lane = 'learning';
    // Ranges [1,1], [3,3], [5,5], …: one dropped seq, one stored, over and over.
    for (let i = 0; i < MAX_SKIP_RANGES + 10; i++) {
      const seq = 2 * i + 1;
      await store.ingestBatch('d1', withDrop(makeBatch(EPOCH, seq + 1, 1, `h${i}`, lane), seq, seq), 16);
    }
    const r = await store.ingestBatch('d1', dropOnly(1, 2 * MAX_SKIP_RANGES + 19, 'i', lane), 17);
    assert.equal(r.dropped?.skipped.length, MAX_SKIP_RANGES);
    assert.equal(r.dropped?.through, 2 * MAX_SKIP_RANGES, 'through ends before the range left out');
    assert.deepEqual(r.dropped?.skipped.at(-1), [2 * MAX_SKIP_RANGES - 1, 2 * MAX_SKIP_RANGES - 1]);
    const rest = await store.ingestBatch(
      'd1',
      dropOnly(2 * MAX_SKIP_RANGES + 1, 2 * MAX_SKIP_RANGES + 19, 'j', lane),
      18,
    );
    assert.equal(rest.dropped?.skipped.length, 10);
  });
});

describe('hub over MQTT: drop answers, pings, the ledger view', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let creds: Credentials;
  let device: TestDevice;
  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
    creds = await enroll(hub);
    device = await connectDevice(hub, creds);
    await device.client.subscribeAsync(deviceTopic(creds.id, 'ack'), { qos: 1 });
  });
  after(async () => {
    await closeClient(device?.client);
    await hub?.close();
    await dir?.remove();
  });

  test('the ack of a batch with `dropped` carries the answer and the skipped count', async () => {
    await sendBatch(device, creds.id, makeBatch(EPOCH, 1, 2, 'm1'));
    const ack = await sendBatch(device, creds.id, withDrop(makeBatch(EPOCH, 5, 1, 'm2'), 1, 4));
    assert.deepEqual(
      [ack.hwm, ack.stored, ack.skipped, ack.dropped],
      [5, 1, 2, { from: 1, through: 4, skipped: [[3, 4]] }],
    );
    const stats = (await api(hub, 'GET', '/v1/stats')).body;
    assert.equal(stats.ingest.skipped, 2);
  });

  test('a ping is answered with a pong on ack; an invalid one is counted and dropped', async () => {
    const ack = deviceTopic(creds.id, 'ack');
    await device.client.publishAsync(
      deviceTopic(creds.id, 'ping'),
      JSON.stringify({ v: 1, id: 'p-1', at: 5 }),
    );
    const pong = await waitFor(() => device.received(ack).find((m) => m.pong === 'p-1'), 'pong');
    assert.equal(pong.v, 1);
    assert.equal(typeof pong.at, 'number');
    await device.client.publishAsync(deviceTopic(creds.id, 'ping'), '{"v":1}');
    await waitFor(
      async () => (await api(hub, 'GET', '/v1/stats')).body.rejected.byReason['ping.invalid'] === 1,
      'ping.invalid',
    );
    assert.equal((await api(hub, 'GET', '/v1/stats')).body.pings, 1);
    assert.equal(device.client.connected, true);
  });

  test('GET /v1/devices/:id shows the reported ledger next to what the hub skipped', async () => {
    const before = (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body.ledger;
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
    await device.client.publishAsync(deviceTopic(creds.id, 'state'), JSON.stringify(state), { qos: 1 });
    const view = await waitFor(async () => {
      const body = (await api(hub, 'GET', `/v1/devices/${creds.id}`)).body;
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
