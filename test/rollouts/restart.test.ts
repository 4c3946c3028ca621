import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Hub } from '../../hub/index.js';
import {
  deviceTopic,
  LATENCY_BUCKET_COUNT,
  MODEL_TELEMETRY_EVENT,
  type UplinkBatch,
} from '../../shared/index.js';
import {
  api,
  type Credentials,
  closeClient,
  connectDevice,
  enroll,
  startHub,
  type TestDevice,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import { classifierModel, push } from './fleet.js';

// The driver's state lives in the store, so a hub restart resumes a rollout
// where it stood, and the metrics folded before the restart are never counted again. The
// devices here speak the real MQTT protocol (uplink batches, acks) without an agent, so the
// test controls exactly which reports exist.

let dir: Awaited<ReturnType<typeof tempDir>>;
let hub: Hub;
const devices: Array<{ creds: Credentials; seq: number; conn?: TestDevice }> = [];
const EPOCH = 'restart-epoch-1';

async function connectAll(): Promise<void> {
  for (const d of devices) {
    d.conn = await connectDevice(hub, d.creds);
    await d.conn.client.subscribeAsync(deviceTopic(d.creds.id, 'ack'), { qos: 1 });
  }
}

/** One `telemetry.model` report of `requests` answers of clf@version, acknowledged by the hub. */
async function report(d: (typeof devices)[number], version: string, requests: number): Promise<void> {
  d.seq++;
  const batch: UplinkBatch = {
    v: 1,
    epoch: EPOCH,
    lane: 'telemetry',
    batchId: `b${d.seq}`,
    events: [
      {
        seq: d.seq,
        type: MODEL_TELEMETRY_EVENT,
        at: Date.now(),
        body: {
          from: Date.now() - 1000,
          to: Date.now(),
          models: [
            {
              model: 'clf',
              version,
              role: 'active',
              requests,
              errors: 0,
              latency: [requests, ...new Array(LATENCY_BUCKET_COUNT - 1).fill(0)],
              latencySumMs: requests * 0.5,
              confidenceSum: requests * 0.9,
              confidenceCount: requests,
            },
          ],
        },
      },
    ],
  };
  const conn = d.conn as TestDevice;
  await conn.client.publishAsync(deviceTopic(d.creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
  await waitFor(
    () => conn.received(deviceTopic(d.creds.id, 'ack')).some((a) => a.batchId === batch.batchId),
    `ack of ${batch.batchId}`,
  );
}

const restart = async () => {
  for (const d of devices) await closeClient(d.conn?.client);
  await hub.close();
  hub = await startHub(dir.path, { rollouts: { tickMs: 50 } });
  await connectAll();
};

before(async () => {
  dir = await tempDir('outpost-rollout-restart-');
  hub = await startHub(dir.path, { rollouts: { tickMs: 50 } });
  await push(hub, 'clf', '1.0.0', classifierModel(1).bytes);
  for (let i = 0; i < 2; i++) devices.push({ creds: await enroll(hub), seq: 0 });
  await connectAll();
});
after(async () => {
  for (const d of devices) await closeClient(d.conn?.client);
  await hub.close();
  await dir.remove();
});

test('a hub restart resumes a rollout at its stage and never counts a report twice', async () => {
  const created = await api(hub, 'POST', '/v1/rollouts', {
    model: 'clf',
    version: '1.0.0',
    stages: [50, 100],
    bakeMs: '200ms',
    gates: ['requests>=10'],
    deviceDeadlineMs: '10m',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  const canary = await waitFor(async () => (await hub.store.listRolloutDevices(id))[0], 'the canary');
  const first = devices.find((d) => d.creds.id === canary.deviceId) as (typeof devices)[number];
  await report(first, '1.0.0', 6);
  await report(first, '1.0.0', 6);
  await waitFor(
    async () => (await hub.store.getRollout(id))?.stage === 1,
    'stage 2 after bake with 12 requests',
  );
  const before = await hub.store.modelCounters({ rolloutId: id });

  await restart();
  // The same folded events are read again by no one: the counters are as they were.
  const rollout = await hub.store.getRollout(id);
  assert.deepEqual([rollout?.state, rollout?.stage], ['running', 1]);
  await api(hub, 'GET', `/v1/rollouts/${id}`);
  assert.deepEqual(await hub.store.modelCounters({ rolloutId: id }), before);
  // The restarted driver assigns the second device and completes once it reports.
  const second = devices.find((d) => d !== first) as (typeof devices)[number];
  await waitFor(async () => (await hub.store.listRolloutDevices(id)).length === 2, 'stage 2 device assigned');
  // A redelivered batch (same seq) is ignored by ingest; a new one is counted once.
  second.seq = 0;
  await report(second, '1.0.0', 5);
  second.seq = 0;
  await report(second, '1.0.0', 5);
  await report(second, '1.0.0', 5);
  const done = await waitFor(async () => {
    const r = await hub.store.getRollout(id);
    return r?.state === 'completed' && r;
  }, 'completed after the restart');
  assert.equal(done.stage, 1);
  // Every report counted once (reports folded after the rollout ended count outside it).
  const perDevice = async () => {
    const totals = new Map<string, number>();
    for (const r of await hub.store.modelCounters({ model: 'clf' }))
      totals.set(r.deviceId, (totals.get(r.deviceId) ?? 0) + r.counters.requests);
    return totals;
  };
  await waitFor(async () => (await perDevice()).get(second.creds.id) === 10, 'every report folded');
  assert.deepEqual(
    Object.fromEntries(await perDevice()),
    Object.fromEntries([
      [first.creds.id, 12],
      [second.creds.id, 10],
    ]),
  );
  const served = await api(hub, 'GET', `/v1/model-metrics?model=clf&rollout=${id}&device=${first.creds.id}`);
  assert.equal(served.status, 200);
  assert.deepEqual(
    served.body.rows.map((r: { version: string; role: string; counters: { requests: number } }) => [
      r.version,
      r.role,
      r.counters.requests,
    ]),
    [['1.0.0', 'active', 12]],
  );
  const kinds = (await hub.store.listRolloutEvents(id)).map((e) => e.kind);
  assert.deepEqual(kinds, ['created', 'assigned', 'stage', 'assigned', 'completed']);
});
