import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/index.js';
import { DesiredStateSchema, verifySignedManifest } from '../../shared/index.js';
import { zooFile, zooModel } from '../conformance/zoo.js';
import { api, enroll, startHub, tempDir } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { pushModel } from './helpers.js';

describe('registry', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  const v1 = classifierModel(1).bytes;
  const v2 = classifierModel(2).bytes;

  before(async () => {
    dir = await tempDir();
    hub = await startHub(dir.path);
  });
  after(async () => {
    await hub.close();
    await dir.remove();
  });

  it('creates a 0600 ed25519 signing key and serves its public key', async () => {
    const mode = statSync(join(dir.path, 'keys', 'signing-key.pem')).mode & 0o777;
    assert.equal(mode, 0o600);
    const keys = await api(hub, 'GET', '/v1/keys');
    assert.equal(keys.status, 200);
    assert.match(keys.body.keys[0].publicKeyPem, /BEGIN PUBLIC KEY/);
    assert.equal(keys.body.current, hub.delivery.registry.signingKey.keyId);
  });

  it('pushes a version: stored under its sha256, signed, with lineage and a hub reference', async () => {
    const res = await pushModel(hub, 'clf', '1.0.0', v1, { source: 'unit-test' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const sha = createHash('sha256').update(v1).digest('hex');
    assert.equal(res.body.variants[0].sha256, sha);
    assert.equal(statSync(join(dir.path, 'artifacts', sha)).size, v1.byteLength);
    const shown = await api(hub, 'GET', '/v1/models/clf/versions/1.0.0');
    const [signed] = shown.body.manifests;
    const manifest = verifySignedManifest(signed, [hub.delivery.registry.signingKey.keys.publicKeyPem]);
    assert.equal(manifest.format, 'onnx');
    assert.equal(manifest.precision, 'fp32');
    assert.deepEqual(manifest.lineage, { source: 'unit-test' });
    assert.ok(manifest.reference, 'the hub computed a reference run');
    assert.deepEqual(manifest.reference.outputs.probs?.dims, [1, 3]);
  });

  it('pushes a real stateful audio model: its reference runs at the warm-up sizes that ran', async () => {
    // Silero VAD v5 cannot run with its dynamic dims at 1 (reflect padding needs more samples).
    const bytes = readFileSync(zooFile(zooModel('silero-vad-v5')));
    const res = await pushModel(hub, 'vad', '1.0.0', bytes);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const shown = await api(hub, 'GET', '/v1/models/vad/versions/1.0.0');
    const [signed] = shown.body.manifests;
    const { reference } = verifySignedManifest(signed, [hub.delivery.registry.signingKey.keys.publicKeyPem]);
    assert.ok(reference, 'the hub computed a reference run');
    assert.deepEqual(reference.inputs.input?.dims, [1, 512]);
    assert.deepEqual(reference.inputs.sr, { dtype: 'int64', dims: [], data: [16000] });
    assert.deepEqual(reference.outputs.output?.dims, [1, 1]);
  });

  it('adds variants and children with a parent; refuses a duplicate variant', async () => {
    assert.equal((await pushModel(hub, 'clf', '1.0.0', v1, { variant: 'int8' })).status, 201);
    const dup = await pushModel(hub, 'clf', '1.0.0', v1);
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'HUB_MODEL_EXISTS');
    const child = await pushModel(hub, 'clf', '2.0.0', v2, { parent: '1.0.0' });
    assert.equal(child.status, 201);
    assert.deepEqual(child.body.lineage, { parent: '1.0.0' });
    const list = await api(hub, 'GET', '/v1/models/clf');
    assert.deepEqual(
      list.body.versions.map((v: { version: string; variants: unknown[] }) => [v.version, v.variants.length]),
      [
        ['1.0.0', 2],
        ['2.0.0', 1],
      ],
    );
  });

  it('refuses bad pushes with a clear error: not a model, wrong sha, bad version, too large', async () => {
    const junk = await pushModel(hub, 'clf', '3.0.0', new Uint8Array([1, 2, 3, 4]));
    assert.equal(junk.status, 422);
    assert.equal(junk.body.error.code, 'INFER_MODEL_INVALID');
    const sha = await pushModel(hub, 'clf', '3.0.0', v1, { sha256: '0'.repeat(64) });
    assert.equal(sha.status, 400);
    assert.equal(sha.body.error.code, 'HUB_ARTIFACT_MISMATCH');
    const ver = await pushModel(hub, 'clf', 'latest', v1);
    assert.equal(ver.status, 400);
    assert.match(ver.body.error.message, /semantic version/);
    const small = await tempDir();
    const tiny = await startHub(small.path, { registry: { maxArtifactBytes: 100 } });
    try {
      const big = await pushModel(tiny, 'clf', '1.0.0', v1);
      assert.equal(big.status, 413);
      assert.match(big.body.error.message, /maxArtifactBytes/);
    } finally {
      await tiny.close();
      await small.remove();
    }
    assert.equal((await api(hub, 'GET', '/v1/models/clf/versions/3.0.0')).status, 404);
  });

  it('pins a version on a device (rev + 1, config kept) and refuses to delete it while deployed', async () => {
    const dev = await enroll(hub);
    const cfg = await api(hub, 'PUT', `/v1/devices/${dev.id}/desired`, { config: { logLevel: 'debug' } });
    assert.equal(cfg.body.rev, 1);
    const pinned = await api(hub, 'PUT', `/v1/devices/${dev.id}/models/clf`, { version: '2.0.0' });
    assert.equal(pinned.status, 200, JSON.stringify(pinned.body));
    const doc = DesiredStateSchema.parse(pinned.body);
    assert.equal(doc.rev, 2);
    assert.equal(doc.config.logLevel, 'debug');
    assert.equal(doc.models?.[0]?.version, '2.0.0');
    // The same pin again makes no new revision.
    assert.equal(
      (await api(hub, 'PUT', `/v1/devices/${dev.id}/models/clf`, { version: '2.0.0' })).body.rev,
      2,
    );
    // Changing the config keeps the models section.
    const cfg2 = await api(hub, 'PUT', `/v1/devices/${dev.id}/desired`, { config: {} });
    assert.equal(cfg2.body.rev, 3);
    assert.equal(cfg2.body.models[0].version, '2.0.0');
    const refused = await api(hub, 'DELETE', '/v1/models/clf/versions/2.0.0');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'HUB_MODEL_IN_USE');
    assert.match(refused.body.error.message, new RegExp(dev.id));
    const unknown = await api(hub, 'PUT', `/v1/devices/${dev.id}/models/clf`, { version: '9.9.9' });
    assert.equal(unknown.body.error.code, 'HUB_MODEL_NOT_FOUND');
    const cleared = await api(hub, 'DELETE', `/v1/devices/${dev.id}/models/clf`);
    assert.equal(cleared.body.rev, 4);
    assert.equal(cleared.body.models, undefined);
    assert.equal((await api(hub, 'DELETE', '/v1/models/clf/versions/2.0.0')).status, 204);
    assert.equal((await api(hub, 'GET', '/v1/models/clf/versions/2.0.0')).status, 404);
  });

  it('a reference check registered by other code (rollouts) also refuses deletion', async () => {
    hub.delivery.registry.addReferenceCheck(async (name, version) =>
      name === 'clf' && version === '1.0.0' ? 'rollout r-1' : undefined,
    );
    const refused = await api(hub, 'DELETE', '/v1/models/clf/versions/1.0.0');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /rollout r-1/);
  });

  it('bulk pins many devices in one transaction, all or none', async () => {
    const a = await enroll(hub);
    const b = await enroll(hub);
    const docs = await hub.delivery.desired.setModelMany([a.id, b.id], { name: 'clf', version: '1.0.0' });
    assert.equal(docs.size, 2);
    await assert.rejects(
      hub.delivery.desired.setModelMany([a.id, 'dev-missing'], {
        name: 'clf',
        version: '1.0.0',
        allowDowngrade: true,
      }),
      /no device dev-missing/,
    );
    const after = await hub.delivery.desired.getDesired(a.id);
    assert.equal(after?.models?.[0]?.allowDowngrade, undefined, 'the failed bulk changed nothing');
  });
});
