import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { localLeases } from '../../hub/coordination/local-leases.js';
import { postgresLeases } from '../../hub/coordination/postgres-leases.js';
import type { Leases } from '../../hub/coordination/types.js';
import type { PostgresHubStore } from '../../hub/index.js';
import { waitFor } from '../helpers/hub.js';
import { postgresSpace, probePostgres, type StoreSpace } from '../store-contract/backends.js';

// One replica drives each singleton job; a replica that stops renewing loses
// its lease after the TTL, and the fencing token grows with every change of holder.

describe('PostgreSQL leases between two replicas', { skip: await probePostgres() }, () => {
  let space: StoreSpace;
  let stores: PostgresHubStore[] = [];
  let a: Leases;
  let b: Leases;
  before(async () => {
    space = await postgresSpace();
    stores = [(await space.open()) as PostgresHubStore, (await space.open()) as PostgresHubStore];
    a = postgresLeases((stores[0] as PostgresHubStore).pool, { ttlMs: 400 });
    b = postgresLeases((stores[1] as PostgresHubStore).pool, { ttlMs: 400 });
  });
  after(async () => {
    for (const s of stores) await s.close();
    await space?.dispose();
  });

  test('one holder at a time; renewing keeps the fence; a silent holder is replaced after the TTL', async () => {
    assert.equal(await a.isLeader('rollouts'), true);
    const fence = a.fence('rollouts') as number;
    assert.equal(await b.isLeader('rollouts'), false);
    assert.equal(await a.isLeader('rollouts'), true);
    assert.equal(a.fence('rollouts'), fence, 'a renewal keeps the fence');
    assert.equal(await b.run('rollouts', async () => 'ran'), undefined, 'a non-holder does not run');
    assert.equal(await b.isLeader('fl:t1'), true, 'leases are per name');
    // `a` stops renewing (as if killed): `b` takes over once the lease expired.
    const took = await waitFor(async () => b.isLeader('rollouts'), 'b to take the expired lease');
    assert.equal(took, true);
    assert.ok((b.fence('rollouts') as number) > fence, 'a new holder gets a larger fence');
    assert.equal(await a.isLeader('rollouts'), false, 'the old holder learns it lost');
    assert.equal(a.fence('rollouts'), undefined);
  });

  test('closing releases at once', async () => {
    assert.equal(await b.isLeader('release-me'), true);
    assert.equal(await a.isLeader('release-me'), false);
    await b.close();
    assert.equal(await a.isLeader('release-me'), true);
    assert.equal(await b.isLeader('release-me'), false, 'a closed lease set holds nothing');
  });

  test('racing replicas: exactly one wins each round', async () => {
    const racers = [a, postgresLeases((stores[1] as PostgresHubStore).pool, { ttlMs: 60_000 })];
    const wins = await Promise.all(racers.map((r) => r.isLeader('race')));
    assert.equal(wins.filter(Boolean).length, 1);
  });
});

test('local leases (SQLite, one hub): always held until closed', async () => {
  const leases = localLeases();
  assert.equal(await leases.isLeader('x'), true);
  assert.equal(await leases.run('x', async (fence) => fence), 1);
  await leases.close();
  assert.equal(await leases.isLeader('x'), false);
});
