import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { waitFor } from '../helpers/agent.js';
import { api, enroll } from '../helpers/hub.js';
import {
  activeVersion,
  classifierModel,
  type FleetOnFirstVersion,
  failsOnRealInputs,
  push,
  rolloutEnd,
  rolloutStatus,
  startFleetOnFirstVersion,
} from './fleet.js';

// Canary rollouts against a real hub and real agents: metrics the agents really report drive
// the gates; a failing gate rolls back every device that got the version; a passing rollout
// advances stage by stage after its bake time; a device that never reports is excluded at
// its deadline and holds nobody.

describe('canary rollouts with real agents', () => {
  let rollout: FleetOnFirstVersion;
  let hub: Hub;
  let devices: FleetOnFirstVersion['devices'];

  before(async () => {
    rollout = await startFleetOnFirstVersion({
      versions: [
        ['1.0.0', classifierModel(1).bytes],
        ['2.0.0', failsOnRealInputs()],
        ['3.0.0', classifierModel(3).bytes],
      ],
      devices: 4,
      labels: { tag: 'edge' },
    });
    ({ hub, devices } = rollout);
  });
  after(() => rollout?.close());

  it('refuses bad requests, naming the field', async () => {
    const badGate = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '3.0.0',
      gates: ['latency<5'],
    });
    assert.equal(badGate.status, 400);
    assert.match(badGate.body.error.message, /unknown metric "latency"/);
    const unknown = await api(hub, 'POST', '/v1/rollouts', { model: 'clf', version: '9.9.9' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'HUB_MODEL_NOT_FOUND');
    const missing = await api(hub, 'GET', '/v1/rollouts/r-000000000000');
    assert.equal(missing.body.error.code, 'HUB_ROLLOUT_NOT_FOUND');
  });

  it('a version that errors on real inputs is caught at the canary stage and rolled back', async () => {
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '2.0.0',
      selector: { tag: 'edge' },
      stages: [25, 100],
      bakeMs: '30s',
      gates: ['requests>=5', 'error_rate<0.05'],
      deviceDeadlineMs: '60s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const done = await rolloutEnd(hub, id);
    assert.equal(done.rollout.state, 'rolled-back');
    assert.equal(done.stage.index, 0, 'caught at the canary stage');
    assert.match(done.rollout.reason, /gate error_rate<0\.05 failed: error_rate = 1 at stage 1/);
    const canaries = done.devices.map((d: { deviceId: string }) => d.deviceId);
    assert.equal(canaries.length, 1, '25% of 4 devices');
    const failed = done.timeline.find((e: { kind: string }) => e.kind === 'rolled-back');
    assert.equal(failed.detail.failed.gate, 'error_rate<0.05');
    assert.equal(failed.detail.failed.value, 1);
    assert.equal(failed.detail.restored, 1);
    // The canary is told to go back with allowDowngrade, and really does.
    const desired = await hub.delivery.desired.getDesired(canaries[0]);
    const entry = desired?.models?.find((m) => m.name === 'clf');
    assert.deepEqual([entry?.version, entry?.allowDowngrade], ['1.0.0', true]);
    await waitFor(
      async () => (await activeVersion(hub, canaries[0], 'clf')) === '1.0.0',
      'canary back on v1',
      30_000,
    );
    // Nobody else ever received v2.
    for (const d of devices) {
      if (d.creds.id === canaries[0]) continue;
      assert.equal((await hub.delivery.desired.getDesired(d.creds.id))?.models?.[0]?.version, '1.0.0');
    }
    assert.ok(rollout.load.errors() > 0, 'callers saw the bad version fail');
  });

  it('a good version advances stage by stage after its bake and reaches every device; one that never reports is excluded', async () => {
    // A fifth device is enrolled and labelled but never runs an agent: it can never report.
    const ghost = await enroll(hub, { labels: { tag: 'edge' } });
    await hub.delivery.desired.setModel(ghost.id, { name: 'clf', version: '1.0.0' });
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '3.0.0',
      selector: { tag: 'edge' },
      stages: [20, 60, 100],
      bakeMs: '400ms',
      gates: ['requests>=3', 'error_rate<0.05', 'p95_ms<2000'],
      deviceDeadlineMs: '8s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // One live rollout per model.
    const second = await api(hub, 'POST', '/v1/rollouts', { model: 'clf', version: '3.0.0' });
    assert.equal(second.status, 409);
    const done = await rolloutEnd(hub, id);
    assert.equal(
      done.rollout.state,
      'completed',
      JSON.stringify(done.timeline.map((e: { message: string }) => e.message)),
    );
    const kinds = done.timeline.map((e: { kind: string }) => e.kind);
    assert.deepEqual(
      kinds.filter((k: string) => k === 'stage' || k === 'completed'),
      ['stage', 'stage', 'completed'],
    );
    const ghostRow = done.devices.find((d: { deviceId: string }) => d.deviceId === ghost.id);
    assert.ok(ghostRow.excludedAt !== null, 'the silent device was excluded');
    assert.ok(
      done.timeline.some(
        (e: { kind: string; message: string }) => e.kind === 'excluded' && e.message.startsWith(ghost.id),
      ),
    );
    for (const d of devices) {
      await waitFor(
        async () => (await activeVersion(hub, d.creds.id, 'clf')) === '3.0.0',
        `${d.creds.id} on v3`,
        30_000,
      );
    }
    const arm = done.arms[0];
    assert.equal(arm.version, '3.0.0');
    assert.ok(arm.metrics.requests >= 3);
    assert.equal(arm.metrics.errors, 0);
    assert.ok(arm.metrics.confidence > 0 && arm.metrics.confidence <= 1);
  });

  it('a version a live rollout uses cannot be deleted from the registry', async () => {
    await push(hub, 'other', '1.0.0', classifierModel(5).bytes);
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'other',
      version: '1.0.0',
      selector: { tag: 'nowhere' },
    });
    const id = created.body.id as string;
    const refused = await api(hub, 'DELETE', '/v1/models/other/versions/1.0.0');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, new RegExp(`rollout ${id} \\(running\\)`));
    await api(hub, 'POST', `/v1/rollouts/${id}/abort`);
    assert.equal((await api(hub, 'DELETE', '/v1/models/other/versions/1.0.0')).status, 204);
  });

  it('pause holds a rollout past its bake, resume lets it go on, abort ends it', async () => {
    await push(hub, 'clf', '3.1.0', classifierModel(4).bytes);
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '3.1.0',
      selector: { tag: 'edge' },
      stages: [25, 50, 100],
      bakeMs: '200ms',
      gates: ['requests>=2'],
      deviceDeadlineMs: '2s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const live = new Set(devices.map((d) => d.creds.id));
    const canaries = await waitFor(async () => {
      const rows = (await rolloutStatus(hub, id)).devices as Array<{ deviceId: string }>;
      return rows.length > 0 && rows;
    }, 'the canaries assigned');
    assert.equal((await api(hub, 'POST', `/v1/rollouts/${id}/pause`)).body.state, 'paused');
    // Long past the bake time and with reports flowing, a paused rollout does not move.
    const canary = canaries.map((d) => d.deviceId).find((d) => live.has(d)) as string;
    await waitFor(
      async () => (await activeVersion(hub, canary, 'clf')) === '3.1.0',
      'canary on 3.1.0',
      30_000,
    );
    await waitFor(
      async () => (await hub.store.modelCounters({ rolloutId: id })).some((r) => r.counters.requests >= 20),
      'reports while paused',
      30_000,
    );
    const paused = await rolloutStatus(hub, id);
    assert.equal(paused.stage.index, 0);
    assert.equal(paused.devices.length, canaries.length);
    assert.equal((await api(hub, 'POST', `/v1/rollouts/${id}/pause`)).status, 409);
    assert.equal((await api(hub, 'POST', `/v1/rollouts/${id}/resume`)).body.state, 'running');
    await waitFor(
      async () => (await rolloutStatus(hub, id)).stage.index >= 1,
      'advanced after resume',
      30_000,
    );
    const aborted = await api(hub, 'POST', `/v1/rollouts/${id}/abort`, { reason: 'enough' });
    assert.equal(aborted.body.state, 'aborted');
    assert.equal(aborted.body.reason, 'enough');
    assert.equal((await api(hub, 'POST', `/v1/rollouts/${id}/resume`)).status, 409);
    // An aborted rollout can still be rolled back by hand: every device it changed goes back.
    const back = await api(hub, 'POST', `/v1/rollouts/${id}/rollback`);
    assert.equal(back.body.state, 'rolled-back');
    const s = await rolloutStatus(hub, id);
    for (const d of s.devices) {
      const entry = (await hub.delivery.desired.getDesired(d.deviceId))?.models?.[0];
      assert.deepEqual([entry?.version, entry?.allowDowngrade], ['3.0.0', true]);
    }
  });
});
