import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { OutpostError } from '../../shared/index.js';
import { makeBatch } from '../helpers/hub.js';
import { contract } from './suite.js';

/**
 * The HubStore contract (docs/architecture.md "Testing": one suite per interface, run over every
 * implementation): devices, status, desired state, ingest, close — over SQLite and PostgreSQL.
 */
const newDevice = (id: string) => ({ id, secretHash: 'scrypt$1$1$1$x$y', createdAt: 1000 });

contract('HubStore contract: core', (ctx) => {
  let store: HubStore;
  before(async () => {
    store = ctx().store;
    await store.createDevice({ ...newDevice('d1'), name: 'one', labels: { a: 'b' } });
    await store.createDevice(newDevice('d2'));
  });

  test('devices are created once and listed by id', async () => {
    await assert.rejects(
      store.createDevice(newDevice('d1')),
      (err) => err instanceof OutpostError && err.code === 'HUB_DEVICE_EXISTS',
    );
    const listed = await store.listDevices();
    assert.deepEqual(
      listed.map((d) => [d.id, d.name, d.labels, d.online, d.lastSeen]),
      [
        ['d1', 'one', { a: 'b' }, false, null],
        ['d2', null, {}, false, null],
      ],
    );
    assert.equal(await store.getDevice('nope'), undefined);
  });

  test('ingest: in order, duplicates ignored, nothing past a gap, per (epoch, lane)', async () => {
    assert.deepEqual(await store.ingestBatch('d1', makeBatch('epoch0001', 1, 3, 'b1'), 5), {
      hwm: 3,
      stored: 3,
      duplicates: 0,
    });
    assert.deepEqual(await store.ingestBatch('d1', makeBatch('epoch0001', 2, 4, 'b2'), 6), {
      hwm: 5,
      stored: 2,
      duplicates: 2,
    });
    assert.deepEqual(await store.ingestBatch('d1', makeBatch('epoch0001', 7, 2, 'b3'), 7), {
      hwm: 5,
      stored: 0,
      duplicates: 0,
    });
    assert.deepEqual(await store.ingestBatch('d1', makeBatch('epoch0001', 1, 1, 'b4', 'telemetry'), 8), {
      hwm: 1,
      stored: 1,
      duplicates: 0,
    });
    assert.deepEqual(await store.ingestBatch('d2', makeBatch('epoch0001', 1, 1, 'b5'), 9), {
      hwm: 1,
      stored: 1,
      duplicates: 0,
    });
    await assert.rejects(
      store.ingestBatch('ghost', makeBatch('epoch0001', 1, 1, 'b6'), 9),
      (err) => err instanceof OutpostError && err.code === 'HUB_DEVICE_NOT_FOUND',
    );
    assert.equal(await store.countEvents('d1'), 6);
    assert.equal(await store.countEvents(), 7);
    const results = await store.listEvents('d1', { lane: 'results', limit: 100 });
    assert.deepEqual(
      results.map((e) => [e.seq, e.body, e.receivedAt]),
      [
        [1, { n: 1 }, 5],
        [2, { n: 2 }, 5],
        [3, { n: 3 }, 5],
        [4, { n: 4 }, 6],
        [5, { n: 5 }, 6],
      ],
    );
    const page = await store.listEvents('d1', {
      after: { epoch: 'epoch0001', lane: 'results', seq: 4 },
      limit: 100,
    });
    assert.deepEqual(
      page.map((e) => `${e.lane}/${e.seq}`),
      ['results/5', 'telemetry/1'],
    );
    assert.equal((await store.listEvents('d1', { limit: 2 })).length, 2);
  });

  test('status: online records the connection; only its own offline counts', async () => {
    assert.equal(await store.setStatus('d1', { online: true, conn: 'c1', at: 10 }), 'applied');
    assert.equal(await store.setStatus('d1', { online: true, conn: 'c2', at: 11 }), 'applied');
    assert.equal(await store.setStatus('d1', { online: false, conn: 'c1', at: 12 }), 'stale');
    let d1 = await store.getDevice('d1');
    assert.deepEqual([d1?.online, d1?.conn, d1?.lastSeen], [true, 'c2', 11]);
    assert.equal(await store.setStatus('d1', { online: false, conn: 'c2', at: 13 }), 'applied');
    d1 = await store.getDevice('d1');
    assert.deepEqual([d1?.online, d1?.lastSeen], [false, 13]);
    assert.equal(await store.setStatus('ghost', { online: true, conn: 'c', at: 1 }), 'unknown-device');
    await store.setStatus('d2', { online: true, conn: 'c9', at: 1 });
    assert.equal(await store.markAllOffline(), 1);
    assert.equal((await store.getDevice('d2'))?.online, false);
  });

  test('touch never moves lastSeen backwards; reported state is kept', async () => {
    await store.touch('d2', 500);
    await store.touch('d2', 400);
    assert.equal((await store.getDevice('d2'))?.lastSeen, 500);
    assert.equal(await store.setReported('d2', { v: 1, x: [1] }, 600), true);
    assert.equal(await store.setReported('ghost', {}, 600), false);
    const d2 = await store.getDevice('d2');
    assert.deepEqual([d2?.reported, d2?.reportedAt, d2?.lastSeen], [{ v: 1, x: [1] }, 600, 600]);
  });

  test('desired state: rev + 1 per put, listed for republishing', async () => {
    assert.equal(await store.getDesired('d1'), undefined);
    const r1 = await store.putDesired('d1', { logLevel: 'warn' }, 100);
    const r2 = await store.putDesired('d1', {}, 200);
    assert.deepEqual(r1, { v: 1, rev: 1, at: 100, config: { logLevel: 'warn' } });
    assert.deepEqual(r2, { v: 1, rev: 2, at: 200, config: {} });
    assert.deepEqual(await store.getDesired('d1'), r2);
    assert.deepEqual(await store.listDesired(), [{ deviceId: 'd1', desired: r2 }]);
    await assert.rejects(
      store.putDesired('ghost', {}, 1),
      (err) => err instanceof OutpostError && err.code === 'HUB_DEVICE_NOT_FOUND',
    );
  });

  test('after close, calls reject with HUB_STORE_UNAVAILABLE; close is idempotent', async () => {
    const closing = await ctx().space.open();
    await closing.close();
    await closing.close();
    await assert.rejects(
      closing.listDevices(),
      (err) => err instanceof OutpostError && err.code === 'HUB_STORE_UNAVAILABLE',
    );
  });

  test('a second handle on the same data sees what the first committed', async () => {
    const second = await ctx().space.open();
    try {
      assert.deepEqual((await second.getDevice('d1'))?.name, 'one');
      assert.equal(await second.countEvents(), await store.countEvents());
      assert.deepEqual(await second.getDesired('d1'), await store.getDesired('d1'));
    } finally {
      await second.close();
    }
  });

  test('two handles ingesting the same batch at once store each event exactly once', async () => {
    // Two hub replicas may both receive a redelivered batch; the mark row lock
    // (PostgreSQL) or the write lock (SQLite) makes one of them see the other's commit.
    await store.createDevice(newDevice('race'));
    const second = await ctx().space.open();
    try {
      for (let k = 0; k < 10; k++) {
        const batch = makeBatch('epochrace', 1 + 5 * k, 5, `r${k}`);
        const [a, b] = await Promise.all([
          store.ingestBatch('race', batch, 50),
          second.ingestBatch('race', batch, 50),
        ]);
        assert.deepEqual([a.stored + b.stored, a.duplicates + b.duplicates], [5, 5], `batch ${k}`);
        assert.equal(a.hwm, 5 * (k + 1));
        assert.equal(b.hwm, 5 * (k + 1));
      }
      const events = await second.listEvents('race', { limit: 1000 });
      assert.deepEqual(
        events.map((e) => e.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    } finally {
      await second.close();
    }
  });
});
