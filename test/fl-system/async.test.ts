import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { tempDir, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, startHub } from '../helpers/hub.js';
import { initialModel, startFleet, taskBody } from './fleet.js';

// Asynchronous buffered rounds (FedBuff) — every K updates make a new global
// version; an update trained on an older version is folded in with its staleness.

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
        [0, 1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      cleanups,
    );
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
    // Each version folded exactly K = 2 updates; at least one was trained on an older version.
    const updates = (await hub.store.listFlUpdates('fedbuff')).filter((u) => u.status === 'accepted');
    assert.equal(updates.length, 6);
    const stale = updates.filter((u) => u.appliedIn !== null && u.appliedIn > u.round);
    assert.ok(stale.length >= 1, JSON.stringify(updates));
    // A (device, version) pair is never folded twice.
    assert.equal(new Set(updates.map((u) => `${u.deviceId}/${u.round}`)).size, updates.length);
  });
});
