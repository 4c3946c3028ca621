import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allDevicesFilter,
  DEVICE_TO_HUB,
  deviceTopic,
  HUB_TO_DEVICE,
  isDownlinkChannel,
  isUplinkChannel,
  parseDeviceTopic,
} from '../../shared/index.js';

test('every channel round-trips through deviceTopic and parseDeviceTopic', () => {
  for (const channel of [...DEVICE_TO_HUB, ...HUB_TO_DEVICE]) {
    for (const id of ['a', 'jetson-01', 'Pi.4_kitchen', '0'.repeat(64)]) {
      const topic = deviceTopic(id, channel);
      assert.equal(topic, `outpost/v1/d/${id}/${channel}`);
      assert.deepEqual(parseDeviceTopic(topic), { deviceId: id, channel });
    }
  }
});

test('deviceTopic refuses ids that would break topic levels', () => {
  for (const id of ['', 'a/b', '+', '#', 'a+b', '-leading', 'x'.repeat(65), 'spa ce']) {
    assert.throws(() => deviceTopic(id, 'up'), RangeError, id);
  }
});

test('parseDeviceTopic rejects foreign, wildcard and malformed topics', () => {
  for (const topic of [
    'outpost/v1/d/+/up',
    'outpost/v1/d/#',
    'outpost/v2/d/a/up',
    'outpost/v1/d/a/telemetry',
    'outpost/v1/d/a/up/extra',
    'other/v1/d/a/up',
    'outpost/v1/d//up',
    '',
  ]) {
    assert.equal(parseDeviceTopic(topic), undefined, topic);
  }
});

test('direction of each channel', () => {
  assert.deepEqual(DEVICE_TO_HUB, ['up', 'state', 'status', 'ping']);
  assert.ok(DEVICE_TO_HUB.every((c) => isUplinkChannel(c) && !isDownlinkChannel(c)));
  assert.deepEqual(
    HUB_TO_DEVICE.map((c) => isUplinkChannel(c)),
    [false, false, false],
  );
  assert.deepEqual(
    HUB_TO_DEVICE.map((c) => isDownlinkChannel(c)),
    [true, true, true],
  );
  assert.equal(allDevicesFilter('up'), 'outpost/v1/d/+/up');
});
