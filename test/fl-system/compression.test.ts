import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RESIDUAL_DIR } from '../../agent/federated/residual-store.js';
import { waitFor } from '../helpers/agent.js';
import { api } from '../helpers/hub.js';
import { initialModel, startFlHub, taskBody, taskEnded } from './fleet.js';

// Compressed updates with error feedback across real agents and a real hub: each device keeps
// what top-k left out of its update in its data dir and adds it to its next round's update.

describe('top-k compressed rounds with error feedback', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('devices carry their residual from round 1 into round 2 and keep only the latest on disk', async () => {
    const { hub, fleet } = await startFlHub(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      cleanups,
    );
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 2,
      'two devices online',
    );
    const res = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(initialModel(), {
        id: 'topk-ef',
        rounds: 2,
        minClients: 2,
        compression: { kind: 'topk', topkFraction: 0.05 },
      }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const done = await taskEnded(hub, 'topk-ef', 'the task to finish', 50_000);
    assert.equal(done.status, 'done', JSON.stringify(done));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/topk-ef/rounds')).body.rounds;
    for (const r of rounds) assert.equal(r.metrics.accepted, 2, JSON.stringify(r.metrics));

    for (const d of fleet) {
      const status = (await (await fetch(`${d.agent?.api.url}/v1/federated`)).json()) as {
        rounds: Array<{
          taskId: string;
          round: number;
          detail: { residualCarried?: boolean; bytes: number };
        }>;
      };
      const mine = status.rounds
        .filter((r) => r.taskId === 'topk-ef')
        .sort((a, b) => a.round - b.round)
        .map((r) => [r.round, r.detail.residualCarried]);
      assert.deepEqual(mine, [
        [1, false],
        [2, true],
      ]);
      assert.equal(readdirSync(join(d.dataDir, RESIDUAL_DIR)).length, 1);
    }

    // errorFeedback: false: plain top-k, nothing carried or kept.
    const plain = await api(
      hub,
      'POST',
      '/v1/federated/tasks',
      taskBody(initialModel(), {
        id: 'topk-plain',
        rounds: 1,
        minClients: 2,
        compression: { kind: 'topk', topkFraction: 0.05, errorFeedback: false },
      }),
    );
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    const plainDone = await taskEnded(hub, 'topk-plain', 'the second task to finish', 50_000);
    assert.equal(plainDone.status, 'done', JSON.stringify(plainDone));
    for (const d of fleet) {
      const status = (await (await fetch(`${d.agent?.api.url}/v1/federated`)).json()) as {
        rounds: Array<{ taskId: string; detail: Record<string, unknown> }>;
      };
      const mine = status.rounds.filter((r) => r.taskId === 'topk-plain');
      assert.equal(mine.length, 1);
      assert.equal('residualCarried' in (mine[0]?.detail ?? {}), false);
      const files = readdirSync(join(d.dataDir, RESIDUAL_DIR));
      assert.equal(files.length, 1, files.join(', ')); // still only the first task's
    }
  });
});
