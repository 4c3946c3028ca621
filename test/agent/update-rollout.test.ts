/**
 * Over-the-air agent updates end to end, with real processes: a hub, two devices run by
 * `outpost agent launch`, agent releases pushed to the registry and rolled out. A broken
 * release (it exits at start) reaches its canary: the launcher reverts it by itself, the old
 * agent reports why, and the rollout rolls back; a good release then reaches every device.
 * Events queued before and during the updates reach the hub exactly once; no model is
 * downloaded again.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { modelReport, pushModel } from '../delivery/helpers.js';
import {
  deviceOf,
  type LaunchedAgent,
  launchAgent,
  postEvents,
  pushBundle,
  readingsAtHub,
  testBundle,
  waitForDevice,
  writeAgentConfig,
} from '../helpers/agent-update.js';
import { api, Cleanups, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';

/** Every file under `dir` with its inode and mtime: a file downloaded or written again differs. */
function fileIdentities(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const st = statSync(path);
      return `${path} ${st.ino} ${st.mtimeMs}`;
    })
    .sort();
}

describe('agent updates: bundles, rollouts, launcher', () => {
  const cleanups = new Cleanups();
  const dir = tempDir('outpost-ota-');
  cleanups.add(() => dir.remove());
  let hub: Awaited<ReturnType<typeof startHub>>;
  const devices: Array<{ id: string; agent: LaunchedAgent; accepted: number[]; modelFiles: string[] }> = [];

  before(async () => {
    hub = await startHub(join(dir.path, 'hub'), { rollouts: { tickMs: 100 } });
    cleanups.add(() => hub.close());
    const keys = (await api(hub, 'GET', '/v1/keys')).body.keys.map(
      (k: { publicKeyPem: string }) => k.publicKeyPem,
    );
    for (const name of ['ota-1', 'ota-2']) {
      const creds = await enroll(hub, { id: name });
      const config = writeAgentConfig(dir.path, hub, creds, {
        delivery: { trustedKeys: keys, hubHttpUrl: hub.http.url, retryMinMs: 100, retryMaxMs: 1000 },
        update: { confirmTimeoutMs: 20_000 },
      });
      const agent = launchAgent(config, join(dir.path, `${name}.log`));
      cleanups.add(() => agent.stop());
      devices.push({ id: name, agent, accepted: [], modelFiles: [] });
    }
    // A model installed before any update: no release may download or rewrite it again.
    assert.equal((await pushModel(hub, 'clf', '1.0.0', classifierModel(4).bytes)).status, 201);
    for (const d of devices) {
      await waitFor(() => d.agent.apiUrl(), `${d.id} ready`, 60_000);
      await waitForDevice(
        hub,
        d.id,
        (x) => x.online && x.reported?.update?.managedBy === 'launcher',
        `${d.id} online`,
      );
      d.accepted.push(...(await postEvents(d.agent.apiUrl() as string, d.id, 0, 20)));
      await hub.delivery.desired.setModel(d.id, { name: 'clf', version: '1.0.0' });
    }
    for (const d of devices) {
      await waitFor(
        async () => (await modelReport(hub, d.id, 'clf'))?.active?.version === '1.0.0',
        `${d.id}: clf 1.0.0 active`,
        60_000,
      );
      d.modelFiles = fileIdentities(join(dir.path, d.id, 'models'));
      assert.ok(d.modelFiles.length > 0, `${d.id}: no model files`);
    }
  });
  after(() => cleanups.run());

  it('pushes bundles: the hub reads the release and platform, signs the manifest, lists it', async () => {
    const broken = await testBundle(dir.path, '0.2.0', true);
    const good = await testBundle(dir.path, '0.2.1');
    const pushed = await pushBundle(hub, broken.file);
    assert.equal(pushed.version, '0.2.0');
    assert.equal(pushed.sha256, broken.sha256);
    assert.equal(
      (await pushBundle(hub, broken.file)).sha256,
      broken.sha256,
      'the same bytes again: the same record',
    );
    await pushBundle(hub, good.file);
    const list = await api(hub, 'GET', '/v1/agents/releases');
    assert.deepEqual(
      list.body.releases.map((r: { version: string }) => r.version),
      ['0.2.0', '0.2.1'],
    );
    const one = await api(hub, 'GET', '/v1/agents/releases/0.2.1');
    assert.equal(one.body.manifests[0].manifest.kind, 'agent');
    assert.equal(one.body.manifests[0].signature.alg, 'ed25519');
    const junk = await fetch(`${hub.http.url}/v1/agents/releases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
      body: Buffer.from('not a bundle'),
    });
    assert.equal(junk.status, 422);
    assert.equal(((await junk.json()) as { error: { code: string } }).error.code, 'HUB_AGENT_BUNDLE_INVALID');
    const missing = await api(hub, 'POST', '/v1/rollouts', { target: 'agent', version: '9.9.9' });
    assert.equal(missing.body.error.code, 'HUB_AGENT_BUNDLE_NOT_FOUND');
    const badGate = await api(hub, 'POST', '/v1/rollouts', {
      target: 'agent',
      version: '0.2.1',
      gates: ['p95_ms<5'],
    });
    assert.equal(badGate.status, 400);
    assert.match(badGate.body.error.message, /unknown metric "p95_ms" \(known: updated, failed, online_s/);
  });

  it('a broken release is reverted by the launcher at its canary and the rollout rolls back', async () => {
    const created = await api(hub, 'POST', '/v1/rollouts', {
      target: 'agent',
      version: '0.2.0',
      stages: [50, 100],
      bakeMs: '1s',
      deviceDeadlineMs: '60s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const status = await waitFor(
      async () => {
        const s = (await api(hub, 'GET', `/v1/rollouts/${id}`)).body;
        return s.rollout.state === 'running' ? undefined : s;
      },
      'the broken rollout to end',
      90_000,
    );
    assert.equal(status.rollout.state, 'rolled-back', JSON.stringify(status.timeline, null, 1));
    assert.equal(status.rollout.stage, 0);
    assert.match(
      status.rollout.reason,
      /gate failed<1 failed: failed = 1 at stage 1 \(ota-\d: 0\.2\.0 exited \(code 1\) before confirming its health\)/,
    );
    const canary = status.devices[0].deviceId as string;
    const d = await waitForDevice(
      hub,
      canary,
      (x) => x.online && x.reported?.update?.failed?.version === '0.2.0',
      'the failure reported',
    );
    assert.equal(d.reported.agentVersion, OUTPOST_VERSION, 'back on the release it ran');
    const slots = JSON.parse(readFileSync(join(dir.path, canary, 'update', 'slots.json'), 'utf8'));
    assert.equal(slots.versions[slots.current], OUTPOST_VERSION);
    assert.equal(slots.lastFailure.version, '0.2.0');
    const other = devices.find((x) => x.id !== canary) as (typeof devices)[number];
    assert.equal(
      (await deviceOf(hub, other.id)).reported.agentVersion,
      OUTPOST_VERSION,
      'the other device never got it',
    );
  });

  it('a good release reaches every device; events arrive exactly once across both updates', async () => {
    const load = devices.map(async (d) => {
      // The application keeps posting while its agent is replaced.
      for (let round = 0; round < 10; round++) {
        const url = d.agent.apiUrl();
        if (url) d.accepted.push(...(await postEvents(url, d.id, 100 + round * 10, 10)));
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    const created = await api(hub, 'POST', '/v1/rollouts', {
      target: 'agent',
      version: '0.2.1',
      stages: [50, 100],
      bakeMs: '1s',
      gates: ['online_s<=60', 'crashes<1'],
      deviceDeadlineMs: '60s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const status = await waitFor(
      async () => {
        const s = (await api(hub, 'GET', `/v1/rollouts/${created.body.id}`)).body;
        return s.rollout.state === 'running' ? undefined : s;
      },
      'the good rollout to end',
      120_000,
    );
    await load;
    assert.equal(status.rollout.state, 'completed', JSON.stringify(status.timeline, null, 1));
    assert.deepEqual(status.arms[0].metrics.updated, 2);
    for (const d of devices) {
      const seen = await waitForDevice(
        hub,
        d.id,
        (x) => x.online && x.reported?.agentVersion === '0.2.1' && x.reported.update.state === 'current',
        `${d.id} on 0.2.1`,
      );
      assert.equal(seen.reported.update.switched.from, OUTPOST_VERSION);
      assert.ok(seen.reported.update.switched.backOnlineMs >= 0);
      const slots = JSON.parse(readFileSync(join(dir.path, d.id, 'update', 'slots.json'), 'utf8'));
      assert.equal(slots.versions[slots.current], '0.2.1');
      assert.equal(slots.trial, undefined);
      assert.ok(existsSync(join(dir.path, d.id, 'update', slots.current, 'bundle.json')));
      // The model came through both updates as it was: still active, its files untouched.
      assert.equal((await modelReport(hub, d.id, 'clf'))?.active?.version, '1.0.0');
      assert.deepEqual(
        fileIdentities(join(dir.path, d.id, 'models')),
        d.modelFiles,
        `${d.id}: model files rewritten`,
      );
    }
    for (const d of devices) {
      const url = d.agent.apiUrl() as string;
      await waitFor(
        async () => {
          const s = (await (await fetch(new URL('/v1/status', url))).json()) as {
            outbox: { results: { pending: number } };
          };
          return s.outbox.results.pending === 0;
        },
        `${d.id} drained`,
        30_000,
      );
      const seen = await readingsAtHub(hub, d.id);
      const duplicates = [...seen.values()].filter((n) => n > 1).length;
      const missing = d.accepted.filter((n) => !seen.has(`${d.id}/${n}`));
      assert.deepEqual([duplicates, missing.length], [0, 0], `${d.id}: duplicates or losses`);
      assert.ok(d.accepted.length > 20);
    }
    const list = await api(hub, 'GET', '/v1/agents/releases');
    assert.equal(list.body.releases.find((r: { version: string }) => r.version === '0.2.1').devices, 2);
    const inUse = await api(hub, 'DELETE', '/v1/agents/releases/0.2.1');
    assert.equal(inUse.body.error.code, 'HUB_AGENT_BUNDLE_IN_USE');
  });
});
