import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ModelWeights } from '../../federated/index.js';
import { waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, sendBatch } from '../helpers/hub.js';
import { initialModel, startFlHub, taskBody, taskEnded } from './fleet.js';
import {
  latestTask,
  type ProtocolClient,
  protocolClient,
  taskWeights,
  updateEvents,
} from './protocol-client.js';

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

async function attack(client: ProtocolClient, kind: Poison, epoch: string): Promise<void> {
  const task = await waitFor(() => latestTask(client), `${kind}: the task in the desired state`);
  const events = updateEvents(task, poisonDelta(kind, taskWeights(task)), {
    examples: 1000,
    norm: 0.5,
    loss: 0.1,
    accuracy: 0.99,
  });
  const batch = { v: 1 as const, epoch, lane: 'learning' as const, batchId: `${kind}-1`, events };
  const ack = await sendBatch(client.device, client.id, batch);
  assert.equal(ack.stored, events.length);
  // A replay of the same batch is a duplicate for the hub: it never counts twice.
  const replay = await sendBatch(client.device, client.id, { ...batch, batchId: `${kind}-2` });
  assert.equal(replay.duplicates, events.length);
}

describe('poisoned updates from protocol-level clients', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('refuses scaled, NaN and wrong-shape updates with their reasons; the honest ones aggregate', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );

    const kinds: Poison[] = ['scaled', 'nan', 'shape'];
    const attackers: Array<ProtocolClient & { kind: Poison }> = [];
    for (const kind of kinds)
      attackers.push({ ...(await protocolClient(hub, `poison-${kind}`, cleanups)), kind });
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
    await Promise.all(attackers.map((a) => attack(a, a.kind, `poison${a.kind}epoch`)));

    const task = await taskEnded(hub, 'poison', 'the round to close', 50_000);
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
