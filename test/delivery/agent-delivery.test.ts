import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { type Credentials, enroll, tempDir as hubTempDir, startHub } from '../helpers/hub.js';
import { classifierModel, f32 } from '../helpers/models.js';
import { modelReport, pushModel } from './helpers.js';

// Real hub, real agents: a pinned version is downloaded, verified, activated; the previous
// one stays warm for an instant rollback; a downgrade without rollback is refused.

describe('agent delivery against the hub', () => {
  let hubDir: Awaited<ReturnType<typeof hubTempDir>>;
  let hub: Hub;
  const cleanups = new Cleanups();
  const x = f32([1, 4], [0.5, -1, 2, 0.25]);

  before(async () => {
    hubDir = await hubTempDir();
    hub = await startHub(hubDir.path);
    for (const [version, seed] of [
      ['1.0.0', 1],
      ['2.0.0', 2],
      ['3.0.0', 3],
    ] as const) {
      const res = await pushModel(hub, 'clf', version, classifierModel(seed).bytes);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await cleanups.run();
    await hub.close();
    await hubDir.remove();
  });

  async function agentFor(creds: Credentials, dataDir?: string): Promise<Agent> {
    const dir = dataDir ?? tempDir().path;
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: dir,
        hub: { mqttUrl: hub.mqtt.url },
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: hub.http.url,
          retryMinMs: 50,
          retryMaxMs: 500,
        },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    return agent;
  }

  const versionServing = async (agent: Agent) => (await agent.models.infer('clf', { x })).version;

  it('activates a pinned version, keeps the previous one warm, rolls back only when allowed', async () => {
    const creds = await enroll(hub);
    const agent = await agentFor(creds);
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'clf'))?.active?.version === '1.0.0',
      'v1 active',
    );
    assert.equal(await versionServing(agent), '1.0.0');

    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '2.0.0' });
    const upgraded = await waitFor(async () => {
      const r = await modelReport(hub, creds.id, 'clf');
      return r?.active?.version === '2.0.0' && r;
    }, 'v2 active');
    assert.equal(upgraded.previous, '1.0.0', 'v1 stays loaded for a rollback');
    assert.equal(upgraded.refused, undefined);
    assert.equal(await versionServing(agent), '2.0.0');

    // A replayed older version without a rollback flag is refused, and the hub hears why.
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    const refused = await waitFor(async () => {
      const r = await modelReport(hub, creds.id, 'clf');
      return r?.refused?.code === 'AGENT_DOWNGRADE_REFUSED' && r;
    }, 'downgrade refused');
    assert.equal(refused.active.version, '2.0.0');
    assert.match(refused.refused.reason, /older than the active 2\.0\.0/);
    assert.equal(await versionServing(agent), '2.0.0');

    // A rollback (allowDowngrade) switches to the warm previous version.
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0', allowDowngrade: true });
    const rolledBack = await waitFor(async () => {
      const r = await modelReport(hub, creds.id, 'clf');
      return r?.active?.version === '1.0.0' && r;
    }, 'rolled back to v1');
    assert.equal(rolledBack.previous, '2.0.0');
    assert.equal(rolledBack.refused, undefined, 'a successful activation clears the refusal');
    assert.equal(await versionServing(agent), '1.0.0');

    // Moving on to 3.0.0 keeps 1.0.0 warm and removes 2.0.0 from the device (models quota).
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '3.0.0' });
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'clf'))?.active?.version === '3.0.0',
      'v3 active',
    );
    const installed = await waitFor(() => {
      const versions = agent.models
        .get('clf')
        .installed.map((i) => i.version)
        .sort();
      return versions.length === 2 && versions;
    }, 'old versions collected');
    assert.deepEqual(installed, ['1.0.0', '3.0.0']);
  });

  it('a device offline while its desired state changed converges on return (retained)', async () => {
    const creds = await enroll(hub);
    const dataDir = tempDir().path;
    const first = await agentFor(creds, dataDir);
    await first.close();
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '2.0.0' });
    const back = await agentFor(creds, dataDir);
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'clf'))?.active?.version === '2.0.0',
      'converged',
    );
    assert.equal(await versionServing(back), '2.0.0');
  });
});
