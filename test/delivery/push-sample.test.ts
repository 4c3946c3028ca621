import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OnnxModelBuilder } from '../../inference/index.js';
import { tempDir as agentTempDir } from '../helpers/agent.js';
import { type HubForCli, startHubForCli } from '../helpers/hub.js';
import { seededFloats } from '../helpers/models.js';
import { modelsInProcess } from './helpers.js';

// `outpost models push FILE --sample FILE`: the hub warms up and runs its reference on the
// pushed sample inputs, for a model no input made from its metadata can run.

/** x[n] reshaped to [10, 100] and doubled: runs only when n is exactly 1000. */
function exactlyThousandModel(): Uint8Array {
  return new OnnxModelBuilder('exact-1000')
    .input('x', 'float32', ['n'])
    .initializer('shape', { dtype: 'int64', dims: [2], data: BigInt64Array.of(10n, 100n) })
    .initializer('two', { dtype: 'float32', dims: [], data: Float32Array.of(2) })
    .node('Reshape', ['x', 'shape'], ['r'])
    .node('Mul', ['r', 'two'], ['y'])
    .output('y', 'float32', [10, 100])
    .build();
}

/** The same reshape, its output concatenated twice: [20, 100], too large for a manifest reference. */
function exactlyThousandTwiceModel(): Uint8Array {
  return new OnnxModelBuilder('exact-1000-twice')
    .input('x', 'float32', ['n'])
    .initializer('shape', { dtype: 'int64', dims: [2], data: BigInt64Array.of(10n, 100n) })
    .node('Reshape', ['x', 'shape'], ['r'])
    .node('Concat', ['r', 'r'], ['y'], { axis: 0 })
    .output('y', 'float32', [20, 100])
    .build();
}

describe('outpost models push --sample', () => {
  const files = agentTempDir();
  let fixture: HubForCli;
  let model: string;
  const sampleData = Array.from(seededFloats(1000, 7));
  const sampleFile = (name: string, value: unknown) => {
    const path = join(files.path, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };
  before(async () => {
    fixture = await startHubForCli();
    model = join(files.path, 'exact.onnx');
    writeFileSync(model, exactlyThousandModel());
  });
  after(async () => {
    await fixture?.close();
    files.remove();
  });

  it('without a sample the hub refuses a model no metadata input runs', async () => {
    const r = await modelsInProcess(
      ['push', model, '--name', 'exact', '--version', '1.0.0', '--json'],
      fixture.env,
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /INFER_MODEL_INVALID/);
  });

  it('with --sample the hub runs its reference on the sample: the manifest reference is the sample and its outputs', async () => {
    const sample = sampleFile('sample.json', { x: { dtype: 'float32', dims: [1000], data: sampleData } });
    const r = await modelsInProcess(
      ['push', model, '--name', 'exact', '--version', '1.0.0', '--sample', sample, '--json'],
      fixture.env,
    );
    assert.equal(r.code, 0, r.stdout);
    assert.equal(JSON.parse(r.stdout).variants[0].format, 'onnx');
    const res = await fetch(`${fixture.hub.http.url}/v1/models/exact/versions/1.0.0`, {
      headers: { authorization: `Bearer ${fixture.hub.adminToken}` },
    });
    assert.equal(res.status, 200);
    const view = (await res.json()) as {
      manifests: Array<{
        manifest: {
          reference?: {
            inputs: Record<string, { dims: number[]; data: number[] }>;
            outputs: Record<string, { dims: number[]; data: number[] }>;
          };
        };
      }>;
    };
    const reference = view.manifests[0]?.manifest.reference;
    assert.ok(reference, 'the manifest carries a reference');
    assert.deepEqual(reference.inputs.x?.dims, [1000]);
    assert.deepEqual(
      reference.inputs.x?.data,
      sampleData.map((v) => Math.fround(v)),
    );
    assert.deepEqual(reference.outputs.y?.dims, [10, 100]);
    assert.deepEqual(
      reference.outputs.y?.data,
      sampleData.map((v) => Math.fround(v) * 2),
    );
  });

  it('when the reference is too large for the manifest, the sample alone is kept for agents to warm up on', async () => {
    const twice = join(files.path, 'twice.onnx');
    writeFileSync(twice, exactlyThousandTwiceModel());
    const value = { x: { dtype: 'float32', dims: [1000], data: sampleData } };
    const sample = sampleFile('sample-twice.json', value);
    const r = await modelsInProcess(
      ['push', twice, '--name', 'twice', '--version', '1.0.0', '--sample', sample],
      fixture.env,
    );
    assert.equal(r.code, 0, r.stdout);
    const res = await fetch(`${fixture.hub.http.url}/v1/models/twice/versions/1.0.0`, {
      headers: { authorization: `Bearer ${fixture.hub.adminToken}` },
    });
    const view = (await res.json()) as {
      manifests: Array<{ manifest: { reference?: unknown; samples?: Record<string, { data: number[] }> } }>;
    };
    const manifest = view.manifests[0]?.manifest;
    assert.equal(manifest?.reference, undefined, 'input 1000 + output 2000 elements exceed the 2048 default');
    assert.deepEqual(manifest?.samples?.x?.data, sampleData);
  });

  it('a sample naming a wrong input is refused naming the tensor; an unreadable sample is a usage error', async () => {
    const wrong = sampleFile('wrong.json', { z: { dtype: 'float32', dims: [1000], data: sampleData } });
    const r = await modelsInProcess(
      ['push', model, '--name', 'exact', '--version', '2.0.0', '--sample', wrong],
      fixture.env,
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /INFER_MODEL_INVALID/);
    assert.match(r.stdout, /input "z"/);
    const bad = sampleFile('bad.json', 'not an object');
    const refused = await modelsInProcess(
      ['push', model, '--name', 'exact', '--version', '2.0.0', '--sample', bad],
      fixture.env,
    );
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /HUB_BAD_REQUEST.*sample/);
    const missing = await modelsInProcess(
      ['push', model, '--name', 'exact', '--version', '2.0.0', '--sample', join(files.path, 'nope.json')],
      fixture.env,
    );
    assert.equal(missing.code, 2, missing.stdout);
    assert.match(missing.stdout, /cannot read --sample/);
  });
});
