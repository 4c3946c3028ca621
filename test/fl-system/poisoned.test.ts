import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chunk, decodeUpdate, encodeUpdate, type ModelWeights } from '../../federated/index.js';
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

// Poisoned updates (scaled, NaN, wrong shape) refused with reasons
// counted. The attackers are protocol-level clients: enrolled devices that speak MQTT
// themselves and publish valid-looking learning-lane batches.

type Poison = 'scaled' | 'nan' | 'shape';

function poisonDelta(kind: Poison, global: ModelWeights): ModelWeights {
  if (kind === 'shape') {
    return global.map((t, i) =>
      i === 0 ? { name: t.name, shape: [7, 3], values: new Float32Array(21).fill(0.01) } : t,
    );
  }
  return global.map((t) => {
    const values = new Float32Array(t.values.length).fill(kind === 'scaled' ? 5 : 0.001);
    if (kind === 'nan') values[0] = Number.NaN;
    return { name: t.name, shape: [...t.shape], values };
  });
}

async function attack(device: TestDevice, id: string, kind: Poison, epoch: string): Promise<void> {
  const desiredTopic = deviceTopic(id, 'desired');
  const doc = await waitFor(
    () => device.received(desiredTopic).find((d) => d.federated?.task),
    `${kind}: the task in the desired state`,
  );
  const task = doc.federated.task as FlTask;
  // Protocol-level clients report no `federated.artifacts`: their task embeds the weights.
  const global = decodeUpdate(Buffer.from(task.weights as string, 'base64'), task.shapes);
  const bytes = encodeUpdate(poisonDelta(kind, global), { compression: 'none' });
  const chunks = chunk(bytes, 32 * 1024);
  const events = chunks.map((c, i) => {
    const body: FlUpdateChunk = {
      task: task.id,
      round: task.round,
      index: c.index,
      total: c.total,
      digest: c.digest,
      bytes: Buffer.from(c.bytes).toString('base64'),
      examples: 1000,
      norm: 0.5,
      clipped: false,
      loss: 0.1,
      accuracy: 0.99,
    };
    return { seq: i + 1, type: FL_UPDATE_CHUNK, at: Date.now(), body };
  });
  const batch = { v: 1 as const, epoch, lane: 'learning' as const, batchId: `${kind}-1`, events };
  const ack = await sendBatch(device, id, batch);
  assert.equal(ack.stored, events.length);
  // A replay of the same batch is a duplicate for the hub: it never counts twice.
  const replay = await sendBatch(device, id, { ...batch, batchId: `${kind}-2` });
  assert.equal(replay.duplicates, events.length);
}

describe('poisoned updates from protocol-level clients', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('refuses scaled, NaN and wrong-shape updates with their reasons; the honest ones aggregate', async () => {
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

    const kinds: Poison[] = ['scaled', 'nan', 'shape'];
    const attackers: Array<{ id: string; device: TestDevice; kind: Poison }> = [];
    for (const kind of kinds) {
      const creds = await enroll(hub, { name: `poison-${kind}` });
      const device = await connectDevice(hub, creds);
      cleanups.push(() => closeClient(device.client));
      await device.client.subscribeAsync([deviceTopic(creds.id, 'desired'), deviceTopic(creds.id, 'ack')], {
        qos: 1,
      });
      const status = { v: 1, state: 'online', conn: `c-${kind}`, at: Date.now() };
      await device.client.publishAsync(deviceTopic(creds.id, 'status'), JSON.stringify(status), {
        qos: 1,
        retain: true,
      });
      attackers.push({ id: creds.id, device, kind });
    }
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 5,
      'five devices online',
    );

    const res = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(initialModel(), { id: 'poison', rounds: 1, minClients: 2, clipNorm: 5 }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await Promise.all(attackers.map((a) => attack(a.device, a.id, a.kind, `poison${a.kind}epoch`)));

    const task = await waitFor(
      async () => {
        const t = (await api(hub, 'GET', '/v1/federated/tasks/poison')).body;
        return t.status !== 'running' && t;
      },
      'the round to close',
      50_000,
    );
    assert.equal(task.status, 'done', JSON.stringify(task));
    const [round] = (await api(hub, 'GET', '/v1/federated/tasks/poison/rounds')).body.rounds;
    assert.equal(round.selected.length, 5);
    assert.equal(round.metrics.accepted, 2, JSON.stringify(round.metrics));
    const byDevice = new Map(round.updates.map((u: { deviceId: string }) => [u.deviceId, u]));
    const reasonOf = (kind: Poison) => {
      const a = attackers.find((x) => x.kind === kind);
      // biome-ignore lint/suspicious/noExplicitAny: JSON from the API
      const u = byDevice.get(a?.id as string) as any;
      assert.equal(u?.status, 'rejected', `${kind}: ${JSON.stringify(u)}`);
      return u.reason as string;
    };
    assert.match(reasonOf('scaled'), /^norm: /);
    assert.match(reasonOf('nan'), /^non-finite: /);
    assert.match(reasonOf('shape'), /^(decode|shape): /);
    const rejected = round.metrics.rejected as Record<string, number>;
    assert.equal(rejected.norm, 1);
    assert.equal(rejected['non-finite'], 1);
    assert.equal((rejected.decode ?? 0) + (rejected.shape ?? 0), 1);
    // Each attacker's update is one decision, although its batch arrived twice.
    assert.equal(round.updates.length, 5);
  });
});
