import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FlTask } from '../../shared/messages/federated.js';
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

// Asynchronous buffered rounds (FedBuff) — every K updates make a new global
// version; an update trained on an older version is folded in with its staleness.
// Two real agents train; a third device, a protocol-level client, lags on purpose: it
// answers version 1 only once version 2 is out, so one stale update always arrives.

/** Sends a small, honest-looking update to `task` (trained on `task.round`) on the learning lane. */
async function sendUpdate(client: ProtocolClient, task: FlTask): Promise<void> {
  const delta = taskWeights(task).map((t) => ({
    name: t.name,
    shape: [...t.shape],
    values: new Float32Array(t.values.length).fill(0.001),
  }));
  const events = updateEvents(task, delta, { examples: 30, norm: 0.05, loss: 0.5, accuracy: 0.8 });
  const batch = {
    v: 1 as const,
    epoch: 'laggardepoch1',
    lane: 'learning' as const,
    batchId: 'lag-1',
    events,
  };
  const ack = await sendBatch(client.device, client.id, batch);
  assert.equal(ack.stored, events.length);
}

describe('asynchronous buffered rounds', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('aggregates every K updates and takes stale ones with their staleness', async () => {
    const { hub } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    const laggard = await protocolClient(hub, 'fl-laggard', cleanups);
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
    const first = await waitFor(() => latestTask(laggard), 'version 1 at the laggard');
    await waitFor(() => (latestTask(laggard)?.round ?? 0) > first.round, 'version 2 at the laggard');
    await sendUpdate(laggard, first);

    const task = await taskEnded(hub, 'fedbuff', 'three versions', 50_000);
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
