import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { waitFor } from '../helpers/agent.js';
import { api } from '../helpers/hub.js';
import {
  activeVersion,
  classifierModel,
  type FleetOnFirstVersion,
  push,
  rolloutEnd,
  rolloutStatus,
  startFleetOnFirstVersion,
} from './fleet.js';

// Shadow and A/B with real agents: a shadow candidate runs beside the active version on the
// same inputs, callers only see the active answers, agreement is reported and gates promotion;
// an A/B test splits devices by cohort and `status` compares the arms side by side.

describe('shadow and A/B rollouts with real agents', () => {
  let rollout: FleetOnFirstVersion;
  let hub: Hub;
  let devices: FleetOnFirstVersion['devices'];
  const ids = () => devices.map((d) => d.creds.id);

  before(async () => {
    rollout = await startFleetOnFirstVersion({
      // On the test input: seed 1 and seed 7 pick class 2, seed 3 picks class 0.
      versions: [
        ['1.0.0', classifierModel(1).bytes],
        ['1.1.0', classifierModel(7).bytes],
        ['1.2.0', classifierModel(3).bytes],
      ],
      devices: 4,
    });
    ({ hub, devices } = rollout);
  });
  after(() => rollout?.close());

  it('a shadow that disagrees is rolled back on agreement; callers never saw it', async () => {
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '1.2.0',
      mode: 'shadow',
      stages: [50, 100],
      bakeMs: '20s',
      gates: ['compared>=5', 'agreement>0.9'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await rolloutEnd(hub, created.body.id);
    assert.equal(done.rollout.state, 'rolled-back');
    assert.match(done.rollout.reason, /gate agreement>0\.9 failed: agreement = 0 at stage 1/);
    const arm = done.arms[0];
    assert.deepEqual([arm.version, arm.role], ['1.2.0', 'shadow']);
    assert.ok(arm.metrics.compared >= 5);
    assert.equal(arm.metrics.agreement, 0);
    // The shadow devices go back to v1 without a shadow; every caller was answered by v1.
    for (const d of done.devices) {
      const entry = (await hub.delivery.desired.getDesired(d.deviceId))?.models?.[0];
      assert.deepEqual([entry?.version, entry?.shadow], ['1.0.0', undefined]);
    }
    for (const d of devices)
      assert.equal(
        (
          await d.agent.models.infer('clf', {
            x: { dtype: 'float32', dims: [1, 4], data: [0.5, -1, 2, 0.25] },
          })
        ).version,
        '1.0.0',
      );
  });

  it('a shadow that agrees is promoted once its gates pass at every stage', async () => {
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '1.1.0',
      mode: 'shadow',
      stages: [50, 100],
      bakeMs: '300ms',
      gates: ['compared>=5', 'agreement>0.95', 'error_rate<0.01'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await rolloutEnd(hub, created.body.id);
    assert.equal(done.rollout.state, 'completed', JSON.stringify(done.timeline));
    assert.equal(done.arms[0].metrics.agreement, 1);
    assert.match(done.timeline.at(-1).message, /promoted 1\.1\.0 on 4 device/);
    for (const id of ids())
      await waitFor(async () => (await activeVersion(hub, id, 'clf')) === '1.1.0', `${id} promoted`, 30_000);
  });

  it('an A/B test splits devices by cohort and compares the arms side by side', async () => {
    await push(hub, 'clf', '2.0.0', classifierModel(8).bytes);
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '2.0.0',
      mode: 'ab',
      control: '1.1.0',
      stages: [50],
      bakeMs: '300ms',
      gates: ['requests>=5', 'error_rate<0.01'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const status = await waitFor(
      async () => {
        const s = await rolloutStatus(hub, id);
        return s.timeline.some((e: { kind: string }) => e.kind === 'gates-passed') && s;
      },
      'A/B gates passed',
      60_000,
    );
    assert.equal(status.rollout.state, 'running', 'an A/B test holds until an operator ends it');
    const [candidate, control] = status.arms;
    assert.deepEqual(
      [candidate.arm, candidate.version, control.arm, control.version],
      ['candidate', '2.0.0', 'control', '1.1.0'],
    );
    assert.deepEqual([candidate.devices, control.devices], [2, 2]);
    assert.ok(candidate.metrics.requests >= 5 && control.metrics.requests > 0);
    assert.equal(candidate.metrics.error_rate, 0);
    // Seed 8 answers class 1 on the test input, seed 7 class 2: the arms' mean confidence differs.
    assert.notEqual(candidate.metrics.confidence, control.metrics.confidence);
    const back = await api(hub, 'POST', `/v1/rollouts/${id}/rollback`, { reason: 'test over' });
    assert.equal(back.body.state, 'rolled-back');
    for (const d of ids())
      await waitFor(
        async () => (await activeVersion(hub, d, 'clf')) === '1.1.0',
        `${d} back on 1.1.0`,
        30_000,
      );
  });
});
