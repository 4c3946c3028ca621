import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { makeBatch } from '../helpers/hub.js';
import { contract } from './suite.js';

/** Device lifecycle (`DeviceLifecycleStore`) over SQLite and PostgreSQL. */
contract('HubStore contract: device lifecycle', (ctx) => {
  let store: HubStore;
  before(async () => {
    store = ctx().store;
    await store.createDevice({ id: 'l1', secretHash: 'scrypt$old', createdAt: 1000 });
    await store.putBrokerHash('l1', '$7$old');
  });

  test('updateCredentials replaces both hashes; false for an unknown device', async () => {
    assert.equal(await store.updateCredentials('l1', 'scrypt$new', '$7$new'), true);
    assert.equal((await store.getDevice('l1'))?.secretHash, 'scrypt$new');
    assert.deepEqual(await store.listBrokerHashes(), [{ deviceId: 'l1', hash: '$7$new' }]);
    assert.equal(await store.updateCredentials('nobody', 'scrypt$x', '$7$x'), false);
  });

  /** A device with results and telemetry events, a loss-ledger skip, a reported state and a broker hash. */
  const withData = async (id: string) => {
    await store.createDevice({ id, secretHash: 'scrypt$x', createdAt: 1000 });
    await store.putBrokerHash(id, '$7$x');
    await store.ingestBatch(id, makeBatch(`epoch-${id}`, 1, 3, `r-${id}`), 2000);
    await store.ingestBatch(
      id,
      { ...makeBatch(`epoch-${id}`, 4, 2, `t-${id}`, 'telemetry'), dropped: { from: 1, through: 3 } },
      2000,
    );
    await store.setReported(id, { v: 1, models: [{ name: 'm', active: { version: '1.0.0' } }] }, 2000);
    await store.putDesired(id, { logLevel: 'warn' }, 2000);
  };
  const lanes = async (id: string) =>
    (await store.listEvents(id, { limit: 100 })).map((e) => `${e.lane}:${e.seq}`).sort();

  test('removeDevice keeping: credentials and desired state go; events, loss ledger and reported state stay', async () => {
    await withData('l2');
    assert.equal(await store.removeDevice('l2', { purge: false, at: 5000 }), true);
    const kept = await store.getDevice('l2');
    assert.equal(kept?.secretHash, 'removed:5000');
    assert.equal(kept?.online, false);
    assert.deepEqual(kept?.reported, { v: 1, models: [{ name: 'm', active: { version: '1.0.0' } }] });
    assert.deepEqual(await lanes('l2'), [
      'results:1',
      'results:2',
      'results:3',
      'telemetry:4',
      'telemetry:5',
    ]);
    assert.deepEqual(
      (await store.skipTotals('l2')).map((s) => [s.lane, s.count]),
      [['telemetry', 3]],
    );
    assert.equal(await store.getDesired('l2'), undefined);
    assert.ok(!(await store.listBrokerHashes()).some((h) => h.deviceId === 'l2'));
    assert.ok(!(await store.listDevices()).some((d) => d.id === 'l2'), 'left out of the fleet');
    await assert.rejects(
      store.createDevice({ id: 'l2', secretHash: 'scrypt$y', createdAt: 6000 }),
      /HUB_DEVICE_EXISTS|already exists/,
    );
    assert.equal(await store.removeDevice('l2', { purge: false, at: 6000 }), false, 'already removed');
  });

  test('removeDevice purging deletes the device with its data, a kept removed one too; false for an unknown device', async () => {
    await withData('l3');
    assert.equal(await store.removeDevice('l3', { purge: true, at: 5000 }), true);
    assert.equal(await store.getDevice('l3'), undefined);
    assert.deepEqual(await lanes('l3'), []);
    assert.deepEqual(await store.skipTotals('l3'), []);
    assert.ok(!(await store.listBrokerHashes()).some((h) => h.deviceId === 'l3'));
    // The id is free again.
    await store.createDevice({ id: 'l3', secretHash: 'scrypt$y', createdAt: 6000 });
    assert.deepEqual(await lanes('l3'), []);

    assert.equal(await store.removeDevice('l2', { purge: true, at: 7000 }), true, 'the kept one from above');
    assert.equal(await store.getDevice('l2'), undefined);
    assert.deepEqual(await lanes('l2'), []);
    assert.equal(await store.removeDevice('l2', { purge: true, at: 7000 }), false);
    assert.equal(await store.removeDevice('nobody', { purge: false, at: 7000 }), false);
  });
});
