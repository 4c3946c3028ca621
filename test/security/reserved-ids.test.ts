import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reservedIdReason } from '../../hub/security/reserved-ids.js';

// Which device ids enrollment refuses, and why: the hub's and the broker's own names always,
// a "." only when the broker is a NATS cluster (it separates NATS subject tokens).

test('the hub user, its client ids, outpost- and $ names are reserved on every broker', () => {
  for (const id of ['outpost-hub', 'OUTPOST-HUB-replica-2', 'outpost-x', '$SYS']) {
    assert.notEqual(reservedIdReason(id, 'outpost-hub'), undefined, id);
    assert.notEqual(reservedIdReason(id, 'outpost-hub', { natsBroker: true }), undefined, id);
  }
  assert.match(
    reservedIdReason('broker-user', 'broker-user') ?? '',
    /"broker-user" is the hub's own broker user/,
  );
  assert.equal(reservedIdReason('pi-01', 'outpost-hub'), undefined);
});

test('a "." is refused on NATS only', () => {
  assert.equal(reservedIdReason('line.3', 'outpost-hub'), undefined);
  assert.match(
    reservedIdReason('line.3', 'outpost-hub', { natsBroker: true }) ?? '',
    /separates NATS subject tokens/,
  );
  assert.equal(reservedIdReason('line-3', 'outpost-hub', { natsBroker: true }), undefined);
});
