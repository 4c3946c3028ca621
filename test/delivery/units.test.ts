import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { assertFreeDisk, compareSemver, rankVariants } from '../../agent/delivery/checks.js';
import { splitDesired } from '../../agent/delivery/lenient-desired.js';
import { setModelEntry, withoutModel } from '../../hub/desired/sections.js';
import { artifactSource, isTfjsBundle, packTfjsBundle, unpackTfjsBundle } from '../../inference/index.js';
import type { Manifest } from '../../shared/index.js';

// Pure parts of delivery: semver order, variant ranking, the TF.js bundle, section
// edits of the desired document, splitting out invalid model entries, the free-disk check.

const manifest = (precision: Manifest['precision'], format: Manifest['format'] = 'onnx') =>
  ({ precision, format }) as Manifest;

describe('delivery units', () => {
  it('orders semantic versions, pre-releases below their release', () => {
    const sorted = [
      '1.0.0',
      '1.0.0-rc.1',
      '0.9.9',
      '1.0.0-alpha',
      '1.10.0',
      '1.2.0',
      '1.0.0-rc.10',
      '1.0.0+build',
    ]
      .sort(compareSemver)
      .join(' ');
    assert.equal(sorted, '0.9.9 1.0.0-alpha 1.0.0-rc.1 1.0.0-rc.10 1.0.0 1.0.0+build 1.2.0 1.10.0');
    assert.equal(compareSemver('2.0.0', '10.0.0'), -1);
  });

  it('ranks variants by the profile precision order, keeping formats its engines read', () => {
    const ranked = rankVariants(
      [manifest('fp32'), manifest('int8'), manifest('fp16'), manifest('fp32', 'tfjs-layers')],
      ['int8', 'fp32', 'fp16'],
      new Set(['onnx']),
    );
    assert.deepEqual(
      ranked.map((m) => `${m.precision}/${m.format}`),
      ['int8/onnx', 'fp32/onnx', 'fp16/onnx'],
    );
  });

  it('packs and unpacks a TF.js bundle; names what is wrong with a damaged one', () => {
    const modelJson = {
      format: 'layers-model',
      modelTopology: {},
      weightsManifest: [{ paths: ['a.bin'], weights: [] }],
    };
    const source = {
      format: 'tfjs-layers' as const,
      modelJsonBytes: Buffer.from(JSON.stringify(modelJson)),
      modelJson,
      shards: new Map([['a.bin', new Uint8Array([1, 2, 3])]]),
    };
    const bundle = packTfjsBundle(source);
    assert.ok(isTfjsBundle(bundle));
    const back = unpackTfjsBundle(bundle);
    assert.equal(back.format, 'tfjs-layers');
    assert.deepEqual([...(back.shards.get('a.bin') ?? [])], [1, 2, 3]);
    assert.throws(() => unpackTfjsBundle(bundle.subarray(0, bundle.length - 1)), /runs past the end/);
    assert.throws(() => unpackTfjsBundle(Buffer.concat([bundle, Buffer.from([0])])), /trailing bytes/);
    assert.equal(artifactSource(new Uint8Array([8, 1])).format, 'onnx');
  });

  it('edits the models section: set (sorted, no-op when equal), remove', () => {
    const entry = (name: string, version: string) => ({ name, version, manifests: [] as never[] });
    const one = setModelEntry({ config: { logLevel: 'info' } }, entry('b', '1.0.0'));
    const two = setModelEntry(one ?? undefined, entry('a', '1.0.0'));
    assert.deepEqual(
      two?.models?.map((m) => m.name),
      ['a', 'b'],
    );
    assert.equal(two?.config.logLevel, 'info');
    assert.equal(setModelEntry(two ?? undefined, entry('a', '1.0.0')), null);
    assert.deepEqual(
      withoutModel(two ?? undefined, 'a')?.models?.map((m) => m.name),
      ['b'],
    );
    assert.equal(withoutModel(two ?? undefined, 'zzz'), null);
    assert.equal(withoutModel({ config: {} }, 'a'), null);
  });

  it('splits invalid model entries out of a desired document', () => {
    const doc = {
      v: 1,
      rev: 3,
      at: 1,
      config: {},
      models: [{ name: 'x', version: '1.0.0', manifests: [{ manifest: {} }] }],
    };
    const split = splitDesired(Buffer.from(JSON.stringify(doc)));
    assert.equal(split?.doc.rev, 3);
    assert.deepEqual(split?.doc.models, []);
    assert.equal(split?.refused[0]?.name, 'x');
    assert.equal(
      splitDesired(Buffer.from(JSON.stringify({ ...doc, rev: -1 }))),
      undefined,
      'other faults reject the whole',
    );
    assert.equal(splitDesired(Buffer.from('not json')), undefined);
  });

  it('refuses when the disk cannot hold the artifact', async () => {
    await assertFreeDisk(tmpdir(), 1);
    await assert.rejects(assertFreeDisk(tmpdir(), 2 ** 60), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'AGENT_DISK_FULL');
      assert.match(err.message, /bytes needed/);
      return true;
    });
  });
});
