/**
 * Drift as a rollout gate (the gate table): `drift_psi` / `drift_ks`
 * judge a version by the drift monitor; a canary whose real agent sees shifted inputs fails
 * `drift_psi<0.2` and is rolled back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { emptyCounters, judgeGates, parseGate } from '../../shared/index.js';
import { agentTestConfig, testLogger } from '../helpers/agent.js';
import { api, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { activeVersion, push, rolloutEnd } from '../rollouts/fleet.js';
import { classesOf, inferRows, rows } from './fleet-ops.js';

test('drift gates: pending without data, pass under, fail over the threshold', () => {
  const gates = ['drift_psi<0.2', 'drift_ks<0.3'].map(parseGate);
  assert.equal(judgeGates(gates, emptyCounters()).verdict, 'wait');
  assert.equal(judgeGates(gates, { ...emptyCounters(), driftPsi: 0.05, driftKs: 0.1 }).verdict, 'pass');
  const failed = judgeGates(gates, { ...emptyCounters(), driftPsi: 0.9, driftKs: 0.1 });
  assert.equal(failed.verdict, 'fail');
  assert.equal(failed.failed?.gate, 'drift_psi<0.2');
  assert.equal(failed.failed?.value, 0.9);
});

test('a canary whose device sees shifted inputs fails drift_psi<0.2 and is rolled back', async (t) => {
  const dir = await tempDir('outpost-drift-gate-');
  const hub = await startHub(join(dir.path, 'hub'), { rollouts: { tickMs: 50 }, drift: { minRows: 200 } });
  const model = classifierModel(5);
  await push(hub, 'clf', '1.0.0', classifierModel(6).bytes);
  await push(hub, 'clf', '2.0.0', model.bytes);
  const creds = await enroll(hub, { id: 'drift-canary' });
  await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
  const agent = await createAgent(
    agentTestConfig({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir: join(dir.path, 'agent'),
      hub: { mqttUrl: hub.mqtt.url },
      inference: { profile: 'x86-64-cpu', threads: 1, hubHttpUrl: hub.http.url, cacheMaxBytes: 0 },
      metrics: { flushIntervalMs: 100 },
      telemetry: { intervalMs: 150, driftEdgesRetryMs: 100 },
      delivery: {
        trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
        hubHttpUrl: hub.http.url,
        retryMinMs: 50,
        retryMaxMs: 500,
      },
    }),
    { logger: testLogger() },
  );
  t.after(async () => {
    await agent.close();
    await hub.close();
    await dir.remove();
  });
  await waitFor(
    async () => (await activeVersion(hub, creds.id, 'clf')) === '1.0.0',
    'clf 1.0.0 active',
    60_000,
  );

  const reference = rows(600, 21);
  const baseline = await api(hub, 'POST', '/v1/drift/baselines/clf/2.0.0/sample', {
    inputs: reference,
    classes: classesOf(model, reference),
  });
  assert.equal(baseline.status, 200, JSON.stringify(baseline.body));

  const created = await api(hub, 'POST', '/v1/rollouts', {
    model: 'clf',
    version: '2.0.0',
    stages: [100],
    bakeMs: '10m',
    gates: ['drift_psi<0.2'],
    deviceDeadlineMs: '60s',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await waitFor(
    async () => (await activeVersion(hub, creds.id, 'clf')) === '2.0.0',
    'the canary runs 2.0.0',
    60_000,
  );

  // The device's traffic has moved (mean +2): the gate sees it and the rollout rolls back.
  let seed = 500;
  await waitFor(
    async () => {
      const status = (await api(hub, 'GET', `/v1/rollouts/${created.body.id}`)).body;
      if (status.rollout.state !== 'running') return true;
      if ((agent.models.get('clf').active?.version ?? '') === '2.0.0')
        await inferRows(agent, rows(100, seed++, 2));
      return false;
    },
    'the rollout to end',
    90_000,
  );
  const done: { rollout: { state: string; reason: string } } = await rolloutEnd(hub, created.body.id);
  assert.equal(done.rollout.state, 'rolled-back', JSON.stringify(done));
  assert.match(done.rollout.reason ?? '', /gate drift_psi<0\.2 failed: drift_psi = \d/);
  const alerts = (await api(hub, 'GET', '/v1/drift/alerts')).body.alerts;
  assert.ok(alerts.some((a: { version: string }) => a.version === '2.0.0'));
});
