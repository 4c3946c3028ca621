import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chunk, decodeUpdate, encodeUpdate } from '../../federated/index.js';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import { FL_UPDATE_CHUNK, type FlTask, type FlUpdateChunk } from '../../shared/messages/federated.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import {
  api,
  closeClient,
  connectDevice,
  enroll,
  sendBatch,
  startHub,
  type TestDevice,
} from '../helpers/hub.js';
import { initialModel, startFleet, taskBody } from './fleet.js';

// Asynchronous buffered rounds (FedBuff) — every K updates make a new global
// version; an update trained on an older version is folded in with its staleness.
// Two real agents train; a third device, a protocol-level client, lags on purpose: it
// answers version 1 only once version 2 is out, so one stale update always arrives.

/** The task of the latest desired document `device` received, or undefined before any. */
function latestTask(device: TestDevice, id: string): FlTask | undefined {
  const docs = device.received(deviceTopic(id, 'desired'));
  return docs.findLast((d) => d.federated?.task)?.federated.task as FlTask | undefined;
}

/** Sends a small, honest-looking update to `task` (trained on `task.round`) on the learning lane. */
async function sendUpdate(device: TestDevice, id: string, task: FlTask): Promise<void> {
  // Protocol-level clients report no `federated.artifacts`: their task embeds the weights.
  const global = decodeUpdate(Buffer.from(task.weights as string, 'base64'), task.shapes);
  const delta = global.map((t) => ({
    name: t.name,
    shape: [...t.shape],
    values: new Float32Array(t.values.length).fill(0.001),
  }));
  const chunks = chunk(encodeUpdate(delta, { compression: 'none' }), 32 * 1024);
  const events = chunks.map((c, i) => {
    const body: FlUpdateChunk = {
      task: task.id,
      round: task.round,
      index: c.index,
      total: c.total,
      digest: c.digest,
      bytes: Buffer.from(c.bytes).toString('base64'),
      examples: 30,
      norm: 0.05,
      clipped: false,
      loss: 0.5,
      accuracy: 0.8,
    };
    return { seq: i + 1, type: FL_UPDATE_CHUNK, at: Date.now(), body };
  });
  const ack = await sendBatch(device, id, {
    v: 1,
    epoch: 'laggardepoch1',
    lane: 'learning',
    batchId: 'lag-1',
    events,
  });
  assert.equal(ack.stored, events.length);
}

describe('asynchronous buffered rounds', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('aggregates every K updates and takes stale ones with their staleness', async () => {
    const dir = tempDir('outpost-fl-hub-');
    cleanups.push(() => dir.remove());
    const hub: Hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    await startFleet(
      hub,
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    const laggard = await enroll(hub, { name: 'fl-laggard' });
    const device = await connectDevice(hub, laggard);
    cleanups.push(() => closeClient(device.client));
    await device.client.subscribeAsync([deviceTopic(laggard.id, 'desired'), deviceTopic(laggard.id, 'ack')], {
      qos: 1,
    });
    const status = { v: 1, state: 'online', conn: 'c-laggard', at: Date.now() };
    await device.client.publishAsync(deviceTopic(laggard.id, 'status'), JSON.stringify(status), {
      qos: 1,
      retain: true,
    });
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 3,
      'three online',
    );

    const body = taskBody(initialModel(), {
      id: 'fedbuff',
      mode: 'async',
      bufferK: 2,
      rounds: 3,
      maxStaleness: 2,
    });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body)).status, 201);
    const first = await waitFor(() => latestTask(device, laggard.id), 'version 1 at the laggard');
    await waitFor(
      () => (latestTask(device, laggard.id)?.round ?? 0) > first.round,
      'version 2 at the laggard',
    );
    await sendUpdate(device, laggard.id, first);

    const task = await waitFor(
      async () => {
        const t = (await api(hub, 'GET', '/v1/federated/tasks/fedbuff')).body;
        return t.status !== 'running' && t;
      },
      'three versions',
      50_000,
    );
    assert.equal(task.status, 'done', JSON.stringify(task));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/fedbuff/rounds')).body.rounds;
    assert.equal(rounds.length, 3);
    for (const r of rounds) assert.equal(r.metrics.accepted, 2, JSON.stringify(r.metrics));
    // Each version folded exactly K = 2 updates; the laggard's was trained on an older version.
    const all = await hub.store.listFlUpdates('fedbuff');
    const updates = all.filter((u) => u.status === 'accepted');
    assert.equal(updates.length, 6, JSON.stringify(all));
    const lagged = updates.find((u) => u.deviceId === laggard.id);
    assert.ok(lagged, JSON.stringify(all));
    assert.equal(lagged.round, first.round);
    assert.ok(lagged.appliedIn !== null && lagged.appliedIn > lagged.round, JSON.stringify(lagged));
    // A (device, version) pair is never folded twice.
    assert.equal(new Set(updates.map((u) => `${u.deviceId}/${u.round}`)).size, updates.length);
  });
});
