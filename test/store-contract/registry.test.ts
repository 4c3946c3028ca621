import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import { generateSigningKeyPair, type Manifest, OutpostError, signManifest } from '../../shared/index.js';
import { contract } from './suite.js';

// Model registry, desired-state sections and broker credentials as store
// contracts.

const keys = generateSigningKeyPair();
const variant = (version: string, precision: Manifest['precision'], sha: string) => {
  const manifest: Manifest = {
    schema: 'outpost.manifest/v1',
    name: 'digits',
    version,
    format: 'onnx',
    precision,
    sha256: sha.repeat(64),
    size: 100,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2] }],
    createdAt: 5,
  };
  return {
    precision,
    format: 'onnx' as const,
    sha256: manifest.sha256,
    size: 100,
    signed: signManifest(manifest, keys),
  };
};

contract('HubStore contract: registry and desired sections', (ctx) => {
  let store: HubStore;
  before(async () => {
    store = ctx().store;
    for (const id of ['m1', 'm2']) await store.createDevice({ id, secretHash: 'x', createdAt: 1 });
  });

  test('variants: one per precision, sorted fp32 < fp16 < int8, versions listed by creation', async () => {
    await store.putModelVariant('digits', '1.0.0', undefined, variant('1.0.0', 'int8', 'a'), 10);
    const v1 = await store.putModelVariant('digits', '1.0.0', undefined, variant('1.0.0', 'fp32', 'b'), 11);
    assert.deepEqual(
      v1.variants.map((v) => v.precision),
      ['fp32', 'int8'],
    );
    assert.equal(v1.createdAt, 10, 'the version keeps its first registration time');
    assert.equal(v1.variants[0]?.signed.manifest.sha256, 'b'.repeat(64));
    await assert.rejects(
      store.putModelVariant('digits', '1.0.0', undefined, variant('1.0.0', 'fp32', 'c'), 12),
      (err) => err instanceof OutpostError && err.code === 'HUB_MODEL_EXISTS',
    );
    await store.putModelVariant('digits', '2.0.0', { parent: '1.0.0' }, variant('2.0.0', 'fp32', 'c'), 20);
    assert.deepEqual(
      (await store.listModelVersions('digits')).map((v) => [v.version, v.lineage]),
      [
        ['1.0.0', undefined],
        ['2.0.0', { parent: '1.0.0' }],
      ],
    );
    assert.equal(await store.artifactInUse('a'.repeat(64)), true);
    assert.equal(await store.deleteModelVersion('digits', '1.0.0'), true);
    assert.equal(await store.deleteModelVersion('digits', '1.0.0'), false);
    assert.equal(await store.artifactInUse('a'.repeat(64)), false, 'its variants went with it');
    assert.equal(await store.getModelVersion('digits', '1.0.0'), undefined);
    assert.equal((await store.listModelVersions()).length, 1);
  });

  test('updateDesired: one revision per changed device in one step; null leaves it; unknown changes nothing', async () => {
    await store.putDesired('m1', { logLevel: 'warn' }, 30);
    const updated = await store.updateDesired(
      ['m1', 'm2'],
      (current, id) => (id === 'm2' ? null : { ...current, config: current?.config ?? {}, models: [] }),
      40,
    );
    assert.deepEqual([...updated.keys()], ['m1']);
    assert.deepEqual(updated.get('m1'), { v: 1, rev: 2, at: 40, config: { logLevel: 'warn' }, models: [] });
    assert.equal(await store.getDesired('m2'), undefined);
    await assert.rejects(
      store.updateDesired(['m1', 'ghost'], (c) => ({ ...c, config: {} }), 50),
      (err) => err instanceof OutpostError && err.code === 'HUB_DEVICE_NOT_FOUND',
    );
    assert.equal((await store.getDesired('m1'))?.rev, 2, 'the failed update changed nothing');
    const again = await store.putDesired('m1', {}, 60);
    assert.deepEqual(
      again,
      { v: 1, rev: 3, at: 60, config: {}, models: [] },
      'putDesired keeps other sections',
    );
  });

  test('broker credentials: one hash per enrolled device, replaced, listed by id', async () => {
    assert.equal(await store.putBrokerHash('m2', '$7$101$b$x'), true);
    assert.equal(await store.putBrokerHash('m1', '$7$101$a$x'), true);
    assert.equal(await store.putBrokerHash('m1', '$7$101$a$y'), true);
    assert.equal(await store.putBrokerHash('ghost', '$7$1$z$z'), false);
    assert.deepEqual(await store.listBrokerHashes(), [
      { deviceId: 'm1', hash: '$7$101$a$y' },
      { deviceId: 'm2', hash: '$7$101$b$x' },
    ]);
  });
});
