import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api } from '../helpers/hub.js';
import { initialModel, startFlHub, taskBody, taskEnded } from './fleet.js';

// Hub-side evaluation on held-out MNIST digits per round, federated
// evaluation from the devices, central DP with its (ε, δ), and the closed loop: a better
// round registers a version (lineage parent + round) and the task's end rolls it out.

describe('federated evaluation and the closed loop', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('evaluates every round, registers the improved model and starts its rollout', async () => {
    const { hub, fleet } = await startFlHub(
      [
        [0, 1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      cleanups,
      30,
    );
    await waitFor(
      async () => (await hub.store.listDevices()).filter((d) => d.online).length === 3,
      'three online',
    );

    const body = taskBody(initialModel(), {
      id: 'loop',
      rounds: 3,
      minClients: 3,
      epochs: 2,
      hubEval: { perClass: 20 },
      dp: { noiseMultiplier: 0.01 },
      // int8 within 0.25 in probability: this small MLP's int8 export measured from 0.007 to
      // past 0.1 off its TF.js model, round by round (the DP noise is random), so the default
      // 0.1 would leave some best versions without their int8 variant.
      closedLoop: { rollout: { stages: [100], bakeMs: 1000 }, parity: { fp32: 1e-4, int8: 0.25 } },
    });
    assert.equal((await api(hub, 'POST', '/v1/federated/tasks', body)).status, 201);
    const task = await taskEnded(hub, 'loop', 'the task to finish', 55_000);
    assert.equal(task.status, 'done', JSON.stringify(task));
    const rounds = (await api(hub, 'GET', '/v1/federated/tasks/loop/rounds')).body.rounds;
    assert.equal(rounds.length, 3);
    const start = rounds[0].metrics.hubEvalStart;
    assert.equal(start.count, 200);
    let epsilon = 0;
    for (const r of rounds) {
      assert.equal(r.metrics.hubEval.count, 200);
      assert.ok(r.metrics.dp.epsilon > epsilon, 'ε grows with every DP round');
      epsilon = r.metrics.dp.epsilon;
      const steps = r.metrics.dp.history.reduce((n: number, h: { steps: number }) => n + h.steps, 0);
      assert.equal(steps, r.round, 'one accountant step per DP round');
    }
    const end = rounds.at(-1).metrics.hubEval.accuracy;
    assert.ok(end > start.accuracy, `accuracy ${start.accuracy} → ${end}`);

    // Every improving round registered a version; the best one was rolled out at the end.
    assert.ok(task.best.version, JSON.stringify(task.best));
    const versions = (await api(hub, 'GET', '/v1/models/digits')).body;
    const registered = (versions.versions ?? versions) as Array<{
      version: string;
      lineage?: { round?: number; parent?: string };
    }>;
    const best = registered.find((v) => v.version === task.best.version);
    assert.ok(best, JSON.stringify(registered));
    assert.equal(best?.lineage?.round, task.best.round);
    // Two ONNX variants, fp32 and int8, each checked against the TF.js model before registration.
    const detail = await hub.delivery.registry.get('digits', task.best.version);
    const variants = detail.variants.map((v) => `${v.format}/${v.precision}`);
    const registeredBy = rounds.find((r: { round: number }) => r.round === task.best.round).metrics
      .closedLoop;
    assert.deepEqual(variants.sort(), ['onnx/fp32', 'onnx/int8'], JSON.stringify(registeredBy));
    for (const v of registeredBy.variants)
      assert.ok(v.parity.ok && v.parity.inputs === 200, JSON.stringify(v));
    const last = rounds.at(-1).metrics.closedLoop;
    assert.equal(last.rollout.version, task.best.version, JSON.stringify(last));
    const rollout = (await api(hub, 'GET', `/v1/rollouts/${last.rollout.id}`)).body;
    assert.equal(rollout.rollout.spec.version, task.best.version);
    assert.equal(rollout.devices.length, 3);
    // The devices download, verify and activate the federated model like any other version.
    await waitFor(
      () =>
        fleet.every((d) =>
          d.agent?.models.list().some((m) => m.name === 'digits' && m.active?.version === task.best.version),
        ),
      'every device to run the rolled-out version',
      30_000,
    );
  });
});
