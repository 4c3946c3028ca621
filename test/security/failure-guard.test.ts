import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Admission, AuthFailureGuard } from '../../hub/security/failure-guard.js';
import { FairQueue } from '../../hub/security/fair-queue.js';

const LIMITS = { failuresPerS: 1, failureBurst: 3, overallFailuresPerS: 1, overallFailureBurst: 5 };

test('a clean source is never charged; a failing one is refused past its burst, others are not', () => {
  const now = 1_000_000;
  const guard = new AuthFailureGuard(LIMITS, () => now);
  for (let i = 0; i < 20; i++) {
    const ok = guard.admit('10.0.0.1') as Admission;
    assert.equal(ok.charged, false, 'successes from a clean source cost nothing');
    guard.succeeded(ok);
  }
  for (let i = 0; i < 3; i++) guard.failed(guard.admit('10.0.0.9') as Admission);
  assert.match(String(guard.admit('10.0.0.9')), /too many failed authentications from 10\.0\.0\.9/);
  assert.equal(typeof guard.admit('10.0.0.1'), 'object', 'another address is not affected');
});

test('past the overall budget, addresses that failed are refused and clean ones still checked', () => {
  const now = 1_000_000;
  const guard = new AuthFailureGuard(LIMITS, () => now);
  for (const source of ['a', 'a', 'b', 'b', 'c']) guard.failed(guard.admit(source) as Admission);
  assert.match(String(guard.admit('a')), /overall/);
  assert.equal(typeof guard.admit('fresh'), 'object');
});

test('a source that failed is charged up front and refunded on success', () => {
  const now = 1_000_000;
  const guard = new AuthFailureGuard(LIMITS, () => now);
  guard.failed(guard.admit('s') as Admission);
  const inFlight = [guard.admit('s'), guard.admit('s')] as Admission[];
  assert.ok(inFlight.every((a) => a.charged));
  assert.equal(typeof guard.admit('s'), 'string', 'in-flight checks count against the budget');
  for (const a of inFlight) guard.succeeded(a);
  assert.equal(typeof guard.admit('s'), 'object');
});

test('the fair queue takes turns between keys', async () => {
  const queue = new FairQueue(1);
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const runs = [queue.run('flood', () => gate.then(() => order.push('flood-0')))];
  for (let i = 1; i <= 3; i++) runs.push(queue.run('flood', async () => order.push(`flood-${i}`)));
  runs.push(queue.run('device', async () => order.push('device')));
  release();
  await Promise.all(runs);
  assert.deepEqual(order.slice(0, 2), ['flood-0', 'flood-1']);
  assert.ok(order.indexOf('device') < order.indexOf('flood-3'), `device waited behind the flood: ${order}`);
});
