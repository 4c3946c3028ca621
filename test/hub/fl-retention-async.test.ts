import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { initialModel, taskBody } from '../fl-system/fleet.js';
import {
  latestTask,
  type ProtocolClient,
  protocolClient,
  taskWeights,
  updateEvents,
} from '../fl-system/protocol-client.js';
import { Cleanups, tempDir, waitFor } from '../helpers/fixtures.js';
import { api, sendBatch, startHub } from '../helpers/hub.js';

// Retention of an asynchronous (FedBuff) task on a real hub: an update still able to finish
// (its version within `maxStaleness`) keeps its bytes after its version closed; once the task
// has moved past the window, the unfinished update goes; the folded ones go at each close.

const TASK = 'buffered';

/** Sends `client`'s update to its current version; only the first chunk when `partial`. */
async function send(client: ProtocolClient, round: number, partial = false): Promise<void> {
  const task = latestTask(client);
  assert.ok(task && task.round === round, `${client.id} at version ${task?.round}, not ${round}`);
  const delta = taskWeights(task).map((t) => ({
    name: t.name,
    shape: [...t.shape],
    values: new Float32Array(t.values.length).fill(0.001),
  }));
  const all = updateEvents(task, delta, { examples: 30, norm: 0.4, loss: 0.5, accuracy: 0.5 });
  assert.ok(all.length > 1);
  const events = partial ? all.slice(0, 1) : all;
  const batch = { v: 1 as const, epoch: `epoch-v${round}`, lane: 'learning' as const };
  const ack = await sendBatch(client.device, client.id, { ...batch, batchId: `v${round}`, events });
  assert.equal(ack.stored, events.length);
}

const held = async (hub: Hub, round: number, client: ProtocolClient) =>
  (await hub.store.getFlChunkHeads(TASK, round, client.id)).length;

/** Waits until version `round` closed and the retention pass after it is done. */
async function closed(hub: Hub, round: number, folded: ProtocolClient): Promise<void> {
  await waitFor(
    async () => (await hub.store.getFlRound(TASK, round))?.status === 'closed',
    `v${round} closed`,
  );
  await waitFor(async () => (await held(hub, round, folded)) === 0, `v${round}'s folded bytes deleted`);
  await hub.federated.retention.idle();
}

describe('federated retention of an async task', () => {
  const cleanups = new Cleanups();
  after(() => cleanups.run());

  it('keeps an unfinished update while its version may still finish it, then deletes it', async () => {
    const dir = tempDir('outpost-fl-retention-async-');
    cleanups.push(() => dir.remove());
    const hub = await startHub(dir.path, { federated: { retention: { keepRounds: 1 } } });
    cleanups.push(() => hub.close());
    const [a, b, slow] = [
      await protocolClient(hub, 'buf-a', cleanups),
      await protocolClient(hub, 'buf-b', cleanups),
      await protocolClient(hub, 'buf-slow', cleanups),
    ] as [ProtocolClient, ProtocolClient, ProtocolClient];
    const body = taskBody(initialModel(), {
      id: TASK,
      mode: 'async',
      bufferK: 2,
      rounds: 4,
      maxStaleness: 1,
    });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body)).status, 201);
    const at = (round: number) =>
      waitFor(
        () => [a, b, slow].every((c) => latestTask(c)?.round === round),
        `version ${round} at the devices`,
      );

    await at(1);
    await send(slow, 1, true);
    await send(a, 1);
    await send(b, 1);
    await closed(hub, 1, a);
    // Version 2 is current, 1 is within maxStaleness 1: the slow device may still finish.
    assert.equal(await held(hub, 1, slow), 1);
    assert.equal(await held(hub, 1, b), 0);

    await at(2);
    await send(a, 2);
    await send(b, 2);
    await closed(hub, 2, a);
    // Version 3 is current: no part of version 1 is taken any more.
    assert.equal(await held(hub, 1, slow), 0);

    for (const round of [3, 4]) {
      await at(round);
      await send(a, round);
      await send(b, round);
      await closed(hub, round, a);
    }
    const task = await hub.store.getFlTask(TASK);
    assert.equal(task?.status, 'done');
    assert.equal(task?.round, 5);
    assert.deepEqual((await hub.store.flStorage(TASK)).chunks, { rows: 0, bytes: 0 });
    // keepRounds 1: the current model only (no hub evaluation, so no best round).
    const weights = [];
    for (let r = 1; r <= 5; r++) weights.push((await hub.store.getFlWeights(TASK, r)) !== undefined);
    assert.deepEqual(weights, [false, false, false, false, true]);
    assert.equal((await hub.store.listFlUpdates(TASK)).filter((u) => u.status === 'accepted').length, 8);
  });
});
