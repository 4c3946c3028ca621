import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentConfigInput, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { packTfjsBundle, readModelSource } from '../../inference/index.js';
import { agentTestConfig, TestBroker, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, type Credentials, enroll, tempDir as hubTempDir, startHub } from '../helpers/hub.js';
import { classifierModel, f32, seededFloats } from '../helpers/models.js';
import { writeLayersModel } from '../helpers/tfjs-models.js';
import { modelReport, pushModel } from './helpers.js';

// Key rotation (agents trust a set), TF.js layers models as single-file bundles, shadow
// versions, and the refusals that depend on the device: no engine, models quota, unsigned.

describe('keys, formats, shadow and device-side refusals', () => {
  let hubDir: Awaited<ReturnType<typeof hubTempDir>>;
  let hub: Hub;
  let profilesDir: string;
  let firstKey: string;
  const cleanups = new Cleanups();

  before(async () => {
    hubDir = await hubTempDir();
    hub = await startHub(hubDir.path);
    firstKey = hub.delivery.registry.signingKey.keys.publicKeyPem;
    for (const [version, seed] of [
      ['1.0.0', 1],
      ['1.1.0', 2],
    ] as const) {
      assert.equal((await pushModel(hub, 'clf', version, classifierModel(seed).bytes)).status, 201);
    }
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const layers = await writeLayersModel(dir.path, seededFloats(12, 3), seededFloats(3, 4), 'none');
    const bundle = packTfjsBundle(await readModelSource(layers.path));
    const res = await pushModel(hub, 'layers', '1.0.0', bundle, { source: 'fl-round', round: '3' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.variants[0].format, 'tfjs-layers');
    // Device classes for the refusals: one reads only ONNX, one has a 100-byte models quota.
    profilesDir = join(dir.path, 'profiles');
    mkdirSync(profilesDir);
    const base = JSON.parse(readFileSync('firmware-profiles/x86-64-cpu.json', 'utf8'));
    const write = (name: string, patch: Record<string, unknown>) =>
      writeFileSync(join(profilesDir, `${name}.json`), JSON.stringify({ ...base, name, ...patch }));
    write('x86-64-cpu', {});
    write('onnx-only', { engines: ['onnx:cpu'] });
    write('tiny-disk', { storage: { modelsMaxBytes: 100 } });
  });
  after(async () => {
    await cleanups.run();
    await hub.close();
    await hubDir.remove();
  });

  async function agentFor(creds: Credentials, extra: Partial<AgentConfigInput> = {}, keys?: string[]) {
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: tempDir().path,
        hub: { mqttUrl: hub.mqtt.url },
        inference: { profile: 'x86-64-cpu', profilesDir, threads: 1 },
        delivery: { trustedKeys: keys ?? [firstKey], hubHttpUrl: hub.http.url, retryMinMs: 50 },
        ...extra,
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    return agent;
  }
  const active = (id: string, name: string, version: string) =>
    waitFor(
      async () => (await modelReport(hub, id, name))?.active?.version === version,
      `${name}@${version} on ${id}`,
    );
  const refusedWith = (id: string, name: string, code: string) =>
    waitFor(async () => {
      const r = await modelReport(hub, id, name);
      return r?.refused?.code === code && r;
    }, `${name} refused with ${code}`);

  it('delivers a TF.js layers bundle (lineage kept) and runs it on a tfjs engine', async () => {
    const creds = await enroll(hub);
    const agent = await agentFor(creds);
    await hub.delivery.desired.setModel(creds.id, { name: 'layers', version: '1.0.0' });
    await active(creds.id, 'layers', '1.0.0');
    const layers = agent.status().inference?.models.find((m) => m.name === 'layers');
    assert.match(layers?.engine ?? '', /^tfjs:/);
    const shown = await api(hub, 'GET', '/v1/models/layers/versions/1.0.0');
    assert.deepEqual(shown.body.lineage, { source: 'fl-round', round: 3 });
  });

  it('refuses what the device cannot run or store: no engine for the format, models quota', async () => {
    const a = await enroll(hub);
    await agentFor(a, { inference: { profile: 'onnx-only', profilesDir, threads: 1 } });
    await hub.delivery.desired.setModel(a.id, { name: 'layers', version: '1.0.0' });
    const noEngine = await refusedWith(a.id, 'layers', 'INFER_NO_ENGINE');
    assert.match(noEngine.refused.reason, /no variant of layers@1\.0\.0 is in a format/);
    const b = await enroll(hub);
    await agentFor(b, { inference: { profile: 'tiny-disk', profilesDir, threads: 1 } });
    await hub.delivery.desired.setModel(b.id, { name: 'clf', version: '1.0.0' });
    const full = await refusedWith(b.id, 'clf', 'INFER_STORAGE_FULL');
    assert.match(full.refused.reason, /exceed the models quota/);
    assert.equal(full.active, undefined);
  });

  it('loads a shadow version beside the active one', async () => {
    const creds = await enroll(hub);
    const agent = await agentFor(creds);
    await hub.delivery.desired.setModel(creds.id, {
      name: 'clf',
      version: '1.0.0',
      shadow: '1.1.0',
      rollout: 'r-test',
    });
    const report = await waitFor(async () => {
      const r = await modelReport(hub, creds.id, 'clf');
      return r?.shadow?.loaded === true && r;
    }, 'shadow loaded');
    assert.equal(report.active.version, '1.0.0');
    assert.equal(report.shadow.version, '1.1.0');
    assert.equal((await agent.models.infer('clf', { x: f32([1, 4], [1, 0, 0, 1]) })).version, '1.0.0');
  });

  it('rotates the hub key: agents trusting both keys take new versions, others refuse them', async () => {
    const rotated = await api(hub, 'POST', '/v1/keys/rotate');
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.keys.length, 2);
    const newKey = rotated.body.keys[0].publicKeyPem as string;
    assert.notEqual(newKey, firstKey);
    assert.equal((await pushModel(hub, 'clf', '2.0.0', classifierModel(9).bytes)).status, 201);
    const both = await enroll(hub);
    await agentFor(both, {}, [firstKey, newKey]);
    const old = await enroll(hub);
    await agentFor(old, {}, [firstKey]);
    for (const id of [both.id, old.id])
      await hub.delivery.desired.setModel(id, { name: 'clf', version: '1.0.0' });
    await active(both.id, 'clf', '1.0.0');
    await active(old.id, 'clf', '1.0.0');
    for (const id of [both.id, old.id])
      await hub.delivery.desired.setModel(id, { name: 'clf', version: '2.0.0' });
    await active(both.id, 'clf', '2.0.0');
    const refused = await refusedWith(old.id, 'clf', 'PROTO_UNTRUSTED_KEY');
    assert.equal(refused.active.version, '1.0.0', 'the old version keeps running');
  });

  it('refuses an unsigned manifest alone; the rest of the desired state still applies', async () => {
    const broker = await TestBroker.start();
    cleanups.push(() => broker.close());
    const creds = await enroll(hub);
    // The hub serves an artifact only to a device whose desired state (at the hub) references it.
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    await agentFor(creds, { hub: { mqttUrl: broker.url } }, [firstKey]);
    const signed = (await hub.delivery.registry.get('clf', '1.0.0')).variants.map((v) => v.signed);
    const doc = {
      v: 1,
      rev: 1,
      at: Date.now(),
      config: { logLevel: 'info' },
      models: [
        { name: 'clf', version: '1.0.0', manifests: signed },
        {
          name: 'nosig',
          version: '1.0.0',
          manifests: signed.map((s) => ({ manifest: { ...s.manifest, name: 'nosig' } })),
        },
      ],
    };
    await broker.publish(`outpost/v1/d/${creds.id}/desired`, JSON.stringify(doc), true);
    type State = {
      appliedRev: number;
      models?: Array<{ name: string; active?: { version: string }; refused?: { code: string } }>;
    };
    const state = await waitFor(() => {
      const last = broker.messages<State>(`outpost/v1/d/${creds.id}/state`).at(-1);
      const clf = last?.models?.find((m) => m.name === 'clf');
      return (
        clf?.active?.version === '1.0.0' && last?.models?.some((m) => m.name === 'nosig' && m.refused) && last
      );
    }, 'clf active and nosig refused');
    assert.equal(state.appliedRev, 1, 'the document applied without the unsigned entry');
    assert.equal(state.models?.find((m) => m.name === 'nosig')?.refused?.code, 'PROTO_BAD_SIGNATURE');
  });
});
