import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceTopic } from '../../shared/index.js';
import {
  api,
  type HubWithDevice,
  makeBatch,
  sendBatch,
  startHubWithDevice,
  waitFor,
} from '../helpers/hub.js';

const MAX_PAYLOAD = 4096;

describe('hub: uplink ingestion', () => {
  let fixture: HubWithDevice;
  before(async () => {
    fixture = await startHubWithDevice({ hub: { mqtt: { maxPayloadBytes: MAX_PAYLOAD } } });
  });
  after(() => fixture?.close());

  const byReason = async (): Promise<Record<string, number>> =>
    (await api(fixture.hub, 'GET', '/v1/stats')).body.rejected.byReason;

  test('invalid payloads are counted with their reason and dropped; the hub keeps serving', async () => {
    const up = deviceTopic(fixture.creds.id, 'up');
    const invalidBatch = { ...makeBatch('epochinvalid', 1, 1, 'bad'), lane: 'no-such-lane' };
    const gapInside = makeBatch('epochinvalid', 1, 2, 'bad2');
    (gapInside.events[1] as { seq: number }).seq = 5;
    await fixture.device.client.publishAsync(up, '{not json', { qos: 1 });
    await fixture.device.client.publishAsync(up, JSON.stringify(invalidBatch), { qos: 1 });
    await fixture.device.client.publishAsync(up, JSON.stringify(gapInside), { qos: 1 });
    await fixture.device.client.publishAsync(
      up,
      JSON.stringify({ ...makeBatch('epochinvalid', 1, 1, 'big'), pad: 'x'.repeat(MAX_PAYLOAD) }),
      { qos: 1 },
    );
    await fixture.device.client.publishAsync(
      deviceTopic(fixture.creds.id, 'state'),
      JSON.stringify({ v: 1 }),
      { qos: 1 },
    );
    await fixture.device.client.publishAsync(deviceTopic(fixture.creds.id, 'status'), 'null', { qos: 1 });

    const reasons = await waitFor(async () => {
      const r = await byReason();
      return r['up.invalid'] === 3 && r['payload.too-large'] === 1 && r['status.invalid'] === 1 && r;
    }, 'rejections counted');
    assert.equal(reasons['state.invalid'], 1);
    const stats = (await api(fixture.hub, 'GET', '/v1/stats')).body;
    assert.equal(stats.rejected.total, 6);
    assert.equal(stats.ingest.batches, 0);
    assert.equal(fixture.device.client.connected, true);

    // The same connection still gets a valid batch stored and acked.
    const ack = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochinvalid', 1, 2, 'good'));
    assert.deepEqual(
      { hwm: ack.hwm, stored: ack.stored, duplicates: ack.duplicates, lane: ack.lane, v: ack.v },
      { hwm: 2, stored: 2, duplicates: 0, lane: 'results', v: 1 },
    );
    assert.equal(
      fixture.device.received(deviceTopic(fixture.creds.id, 'ack')).length,
      1,
      'no ack for invalid batches',
    );
    assert.equal((await api(fixture.hub, 'GET', '/healthz', undefined, null)).status, 200);
  });

  test('the same batch delivered twice is stored once; the second ack reports duplicates', async () => {
    const first = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochdup01', 1, 3, 'dup-1'));
    assert.deepEqual([first.hwm, first.stored, first.duplicates], [3, 3, 0]);
    const again = await sendBatch(fixture.device, fixture.creds.id, {
      ...makeBatch('epochdup01', 1, 3, 'dup-2'),
    });
    assert.deepEqual([again.hwm, again.stored, again.duplicates], [3, 0, 3]);
    assert.equal(await fixture.hub.store.countEvents(fixture.creds.id), 5);
    const events = await api(
      fixture.hub,
      'GET',
      `/v1/devices/${fixture.creds.id}/events?epoch=epochdup01&lane=results`,
    );
    assert.deepEqual(
      events.body.events.map((e: { seq: number }) => e.seq),
      [1, 2, 3],
    );
  });

  test('a batch after a gap stores nothing past the gap; an overlapping batch stores only the new part', async () => {
    const gap = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochdup01', 5, 2, 'gap'));
    assert.deepEqual([gap.hwm, gap.stored, gap.duplicates], [3, 0, 0]);
    const overlap = await sendBatch(
      fixture.device,
      fixture.creds.id,
      makeBatch('epochdup01', 3, 3, 'overlap'),
    );
    assert.deepEqual([overlap.hwm, overlap.stored, overlap.duplicates], [5, 2, 1]);
    const events = await api(
      fixture.hub,
      'GET',
      `/v1/devices/${fixture.creds.id}/events?epoch=epochdup01&lane=results`,
    );
    assert.deepEqual(
      events.body.events.map((e: { seq: number; body: { n: number } }) => [e.seq, e.body.n]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ],
    );
  });

  test('lanes and epochs have their own high-water marks', async () => {
    const control = await sendBatch(
      fixture.device,
      fixture.creds.id,
      makeBatch('epochdup01', 1, 1, 'lane-1', 'control'),
    );
    assert.deepEqual([control.lane, control.hwm, control.stored], ['control', 1, 1]);
    const otherEpoch = await sendBatch(
      fixture.device,
      fixture.creds.id,
      makeBatch('epochdup02', 1, 1, 'epoch-2'),
    );
    assert.deepEqual([otherEpoch.epoch, otherEpoch.hwm, otherEpoch.stored], ['epochdup02', 1, 1]);
    const stats = (await api(fixture.hub, 'GET', '/v1/stats')).body;
    assert.equal(stats.events.total, 9);
    assert.deepEqual(stats.ingest, { batches: 7, stored: 9, duplicates: 4, skipped: 0 });
  });

  test('events page with a next cursor in (epoch, lane, seq) order', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const query = `limit=4${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
      const res = await api(fixture.hub, 'GET', `/v1/devices/${fixture.creds.id}/events?${query}`);
      assert.equal(res.status, 200);
      for (const e of res.body.events) seen.push(`${e.epoch}/${e.lane}/${e.seq}`);
      after = res.body.next;
      if (after === undefined) break;
    }
    assert.deepEqual(seen, [
      'epochdup01/control/1',
      'epochdup01/results/1',
      'epochdup01/results/2',
      'epochdup01/results/3',
      'epochdup01/results/4',
      'epochdup01/results/5',
      'epochdup02/results/1',
      'epochinvalid/results/1',
      'epochinvalid/results/2',
    ]);
    const bare = await api(
      fixture.hub,
      'GET',
      `/v1/devices/${fixture.creds.id}/events?epoch=epochdup01&lane=results&after=3`,
    );
    assert.deepEqual(
      bare.body.events.map((e: { seq: number }) => e.seq),
      [4, 5],
    );
    const bad = await api(fixture.hub, 'GET', `/v1/devices/${fixture.creds.id}/events?after=3`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'HUB_BAD_REQUEST');
    const tooMany = await api(fixture.hub, 'GET', `/v1/devices/${fixture.creds.id}/events?limit=10001`);
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error.message, /limit: /);
  });
});
