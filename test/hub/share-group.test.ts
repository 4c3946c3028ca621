import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerConfigSchema } from '../../hub/bus/mqtt-config.js';
import { shareGroupName } from '../../hub/bus/share-group.js';

// The hub's shared-subscription group on an external broker is a secret: a device that knew
// it could join the group and take uplink away from the hub.

test('the share group defaults to a secret derived from the broker password, the same on every replica', () => {
  const a = { username: 'outpost-hub', password: 'replica-shared-password-1' };
  const group = shareGroupName(a);
  assert.match(group, /^g[0-9a-f]{32}$/);
  assert.equal(shareGroupName({ ...a }), group, 'replicas with the same password agree');
  assert.notEqual(shareGroupName({ ...a, password: 'another-password-entirely' }), group);
  assert.notEqual(group, 'outpost-hub');
});

test('broker.shareGroup, when set, is used as is and must look like a secret', () => {
  const config = BrokerConfigSchema.parse({
    url: 'mqtt://127.0.0.1:1884',
    password: 'replica-shared-password-1',
    shareGroup: 'ops-chosen-group-0123456789',
  });
  assert.equal(shareGroupName(config), 'ops-chosen-group-0123456789');
  const guessable = BrokerConfigSchema.safeParse({
    url: 'mqtt://h:1',
    password: 'p'.repeat(16),
    shareGroup: 'hub',
  });
  assert.equal(guessable.success, false);
});
