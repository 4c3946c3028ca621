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

  test('deleteDevice removes the device with its events and broker hash', async () => {
    await store.createDevice({ id: 'l2', secretHash: 'scrypt$x', createdAt: 1000 });
    await store.putBrokerHash('l2', '$7$x');
    await store.ingestBatch('l2', makeBatch('epoch-l2', 1, 3, 'b-l2'), 2000);
    assert.equal(await store.deleteDevice('l2'), true);
    assert.equal(await store.getDevice('l2'), undefined);
    assert.ok(!(await store.listBrokerHashes()).some((h) => h.deviceId === 'l2'));
    assert.equal(await store.deleteDevice('l2'), false);
  });
});
