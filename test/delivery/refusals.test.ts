import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import {
  type DesiredModel,
  generateSigningKeyPair,
  type SignedManifest,
  signManifest,
} from '../../shared/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { enroll, tempDir as hubTempDir, startHub } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { modelReport, pushModel } from './helpers.js';

// Every refusal case in one desired document beside a good model: none is
// activated, each reason reaches the hub, and the good model is activated regardless.

describe('refused deliveries reach the hub and block nobody', () => {
  let hubDir: Awaited<ReturnType<typeof hubTempDir>>;
  let hub: Hub;
  const cleanups = new Cleanups();
  const signedOf = async (name: string, version: string): Promise<SignedManifest[]> =>
    (await hub.delivery.registry.get(name, version)).variants.map((v) => v.signed);

  before(async () => {
    hubDir = await hubTempDir();
    hub = await startHub(hubDir.path);
    let seed = 10;
    for (const [name, version] of [
      ['good', '1.0.0'],
      ['flip', '1.0.0'],
      ['trunc', '1.0.0'],
      ['foreign', '1.0.0'],
      ['forged', '1.0.0'],
      ['replay', '1.0.0'],
      ['replay', '2.0.0'],
    ] as const) {
      const res = await pushModel(hub, name, version, classifierModel(seed++).bytes);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    // Tamper with stored artifacts on the hub's disk: one bit flipped, one cut short.
    const artifact = async (name: string) =>
      join(
        hubDir.path,
        'artifacts',
        (await hub.delivery.registry.get(name, '1.0.0')).variants[0]?.sha256 ?? '',
      );
    const flipped = readFileSync(await artifact('flip'));
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 0x10;
    writeFileSync(await artifact('flip'), flipped);
    truncateSync(await artifact('trunc'), flipped.length - 10);
  });
  after(async () => {
    await cleanups.run();
    await hub.close();
    await hubDir.remove();
  });

  it('refuses bit-flipped, truncated, foreign-signed, forged and replayed manifests; activates the good one', async () => {
    const creds = await enroll(hub);
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: tempDir().path,
        hub: { mqttUrl: hub.mqtt.url },
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: hub.http.url,
          retryMinMs: 50,
        },
      }),
      { logger: testLogger() },
    );
    cleanups.push(() => agent.close());
    const other = generateSigningKeyPair();
    const foreign = (await signedOf('foreign', '1.0.0')).map((s) => signManifest(s.manifest, other));
    const forged = (await signedOf('forged', '1.0.0')).map((s) => ({
      ...s,
      manifest: { ...s.manifest, size: s.manifest.size + 1 },
    }));
    const entries: DesiredModel[] = [
      { name: 'good', version: '1.0.0', manifests: await signedOf('good', '1.0.0') },
      { name: 'flip', version: '1.0.0', manifests: await signedOf('flip', '1.0.0') },
      { name: 'trunc', version: '1.0.0', manifests: await signedOf('trunc', '1.0.0') },
      { name: 'foreign', version: '1.0.0', manifests: foreign },
      { name: 'forged', version: '1.0.0', manifests: forged },
      // A validly signed manifest of 1.0.0 replayed as 2.0.0.
      { name: 'replay', version: '2.0.0', manifests: await signedOf('replay', '1.0.0') },
    ];
    await hub.delivery.desired.update([creds.id], (current) => ({
      ...(current ?? { config: {} }),
      models: entries,
    }));

    const expected: Record<string, [string, RegExp]> = {
      flip: ['AGENT_ARTIFACT_MISMATCH', /hashing to [0-9a-f]{64}; the signed manifest says/],
      trunc: ['AGENT_ARTIFACT_MISMATCH', /manifest says/],
      foreign: ['PROTO_UNTRUSTED_KEY', /not trusted/],
      forged: ['PROTO_BAD_SIGNATURE', /does not verify/],
      replay: ['AGENT_MANIFEST_MISMATCH', /manifest of replay@1\.0\.0 was sent for replay@2\.0\.0/],
    };
    for (const [name, [code, reason]] of Object.entries(expected)) {
      const report = await waitFor(async () => {
        const r = await modelReport(hub, creds.id, name);
        return r?.refused && r;
      }, `${name} refused`);
      assert.equal(report.refused.code, code, `${name}: ${report.refused.reason}`);
      assert.match(report.refused.reason, reason, name);
      assert.equal(report.active, undefined, `${name} never activated`);
    }
    await waitFor(
      async () => (await modelReport(hub, creds.id, 'good'))?.active?.version === '1.0.0',
      'good active',
    );
    const installed = agent.status().inference?.models.map((m) => m.name);
    assert.deepEqual(installed, ['good']);
  });
});
