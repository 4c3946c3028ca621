import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import type { Admission } from '../../hub/security/failure-guard.js';
import { SharedAuthFailureGuard } from '../../hub/security/shared-failure-guard.js';
import { contract } from './suite.js';

// Token buckets in the store as a contract, through the guard that uses them (failed device
// credentials over HTTP): the same decisions as the in-process guard
// (test/security/failure-guard.test.ts), one budget for two handles (two replicas) and
// after a reopen (a restart), refill over time, and no row for a full bucket.

const LIMITS = { failuresPerS: 1, failureBurst: 3, overallFailuresPerS: 1, overallFailureBurst: 5 };

contract('HubStore contract: shared rate buckets', (ctx) => {
  let store: HubStore;
  let now = 1_000_000;
  const clock = () => now;
  before(() => {
    store = ctx().store;
  });

  test('a clean source costs nothing; a failing one is refused past its burst, others are not', async () => {
    const guard = new SharedAuthFailureGuard(store, 'c1', LIMITS, clock);
    for (let i = 0; i < 10; i++) {
      const ok = (await guard.admit('10.0.0.1')) as Admission;
      assert.equal(ok.charged, false);
      await guard.succeeded(ok);
    }
    assert.deepEqual(
      await store.readRateBuckets([{ scope: 'c1.source', key: '10.0.0.1', ratePerS: 1, burst: 3 }], now),
      [3],
    );
    for (let i = 0; i < 3; i++) await guard.failed((await guard.admit('10.0.0.9')) as Admission);
    assert.match(String(await guard.admit('10.0.0.9')), /too many failed authentications from 10\.0\.0\.9/);
    assert.equal(typeof (await guard.admit('10.0.0.1')), 'object', 'another address is not affected');
    // The budget refills at its rate.
    now += 1000;
    assert.equal(typeof (await guard.admit('10.0.0.9')), 'object');
  });

  test('past the overall budget, sources that failed are refused and clean ones still checked', async () => {
    const guard = new SharedAuthFailureGuard(store, 'c2', LIMITS, clock);
    for (const source of ['a', 'a', 'b', 'b', 'c'])
      await guard.failed((await guard.admit(source)) as Admission);
    assert.match(String(await guard.admit('a')), /overall/);
    assert.equal(typeof (await guard.admit('fresh')), 'object');
  });

  test('charged up front once failed, refunded on success', async () => {
    const guard = new SharedAuthFailureGuard(store, 'c3', LIMITS, clock);
    await guard.failed((await guard.admit('s')) as Admission);
    const inFlight = [(await guard.admit('s')) as Admission, (await guard.admit('s')) as Admission];
    assert.ok(inFlight.every((a) => a.charged));
    assert.equal(typeof (await guard.admit('s')), 'string', 'in-flight checks count against the budget');
    for (const a of inFlight) await guard.succeeded(a);
    assert.equal(typeof (await guard.admit('s')), 'object');
  });

  test('two handles (replicas) and a reopened store share one budget', async () => {
    const second = await ctx().space.open();
    try {
      const one = new SharedAuthFailureGuard(store, 'c4', LIMITS, clock);
      const two = new SharedAuthFailureGuard(second, 'c4', LIMITS, clock);
      // Failures at once from both replicas: never more than the burst is charged.
      await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const guard = i % 2 === 0 ? one : two;
          const admission = await guard.admit('attacker');
          if (typeof admission !== 'string') await guard.failed(admission);
        }),
      );
      assert.match(String(await one.admit('attacker')), /too many/);
      assert.match(String(await two.admit('attacker')), /too many/);
    } finally {
      await second.close();
    }
    const reopened = await ctx().space.open();
    try {
      const guard = new SharedAuthFailureGuard(reopened, 'c4', LIMITS, clock);
      assert.match(String(await guard.admit('attacker')), /too many/, 'a restart does not refill it');
      // Long enough for a full refill: the rows are the same as none and get pruned.
      now += 60_000;
      assert.equal(typeof (await guard.admit('attacker')), 'object');
      await guard.failed((await guard.admit('someone')) as Admission);
      assert.deepEqual(
        await reopened.readRateBuckets([{ scope: 'c4.source', key: 'attacker', ratePerS: 1, burst: 3 }], now),
        [3],
      );
    } finally {
      await reopened.close();
    }
  });
});
