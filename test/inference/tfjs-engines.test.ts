import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ENGINES, type EngineSettings, readModelSource } from '../../inference/index.js';
import { tempDir } from '../helpers/agent.js';
import { f32, matmulBias, maxAbsDiff, seededFloats, values } from '../helpers/models.js';
import { type WeightQuantization, writeGraphModel, writeLayersModel } from '../helpers/tfjs-models.js';

// TF.js graph and layers models (model.json + shards), float32 and with
// uint8- and float16-quantized weight manifests, on the TF.js engines this machine has.

const settings: EngineSettings = {
  intraOpThreads: 1,
  interOpThreads: 1,
  options: {},
  log: pino({ level: 'silent' }),
};
const w = seededFloats(12, 3);
const b = seededFloats(3, 4);
const x = [0.5, -1, 2, 0.25, -0.5, 1.5, -2, 1];
const relu = (v: number[]) => v.map((n) => Math.max(0, n));

describe('TF.js engines', () => {
  const dir = tempDir('outpost-tfjs-');
  after(() => dir.remove());
  const modes: WeightQuantization[] = ['none', 'uint8', 'float16'];

  for (const mode of modes) {
    for (const engine of ['tfjs:cpu', 'tfjs:wasm'] as const) {
      it(`${engine}: layers model, ${mode} weights, matches the dequantized ground truth`, async () => {
        const written = await writeLayersModel(join(dir.path, `layers-${mode}`), w, b, mode);
        const source = await readModelSource(written.path);
        assert.equal(source.format, 'tfjs-layers');
        const model = await ENGINES[engine].load(source, settings);
        try {
          assert.equal(model.signature.inputs.length, 1);
          assert.deepEqual(model.signature.inputs[0]?.shape, [-1, 4]);
          const name = model.signature.inputs[0]?.name as string;
          const out = await model.run({ [name]: f32([2, 4], x) });
          const got = values(Object.values(out)[0]);
          const deq = Object.values(written.dequantized);
          const expected = matmulBias(x, 2, 4, deq[0] as Float32Array, 3, deq[1]);
          assert.ok(maxAbsDiff(got, expected) < 1e-5, `${got} vs ${expected}`);
          if (mode === 'uint8')
            assert.ok(
              maxAbsDiff(expected, matmulBias(x, 2, 4, w, 3, b)) > 1e-4,
              'quantization really changed the weights',
            );
        } finally {
          await model.close();
        }
      });

      it(`${engine}: graph model, ${mode} weights, matches the dequantized ground truth`, async () => {
        const written = writeGraphModel(join(dir.path, `graph-${mode}`), w, b, mode);
        const source = await readModelSource(written.path);
        assert.equal(source.format, 'tfjs-graph');
        const model = await ENGINES[engine].load(source, settings);
        try {
          assert.deepEqual(model.signature.inputs, [{ name: 'x', dtype: 'float32', shape: [-1, 4] }]);
          assert.deepEqual(
            model.signature.outputs.map((o) => o.name),
            ['y'],
          );
          const out = await model.run({ x: f32([2, 4], x) });
          const expected = relu(
            matmulBias(x, 2, 4, written.dequantized.w as Float32Array, 3, written.dequantized.b),
          );
          assert.ok(maxAbsDiff(values(out.y), expected) < 1e-5);
        } finally {
          await model.close();
        }
      });
    }
  }

  it('models on different TF.js backends in one process keep their own backend', async () => {
    const source = await readModelSource(writeGraphModel(join(dir.path, 'shared'), w, b, 'none').path);
    const onCpu = await ENGINES['tfjs:cpu'].load(source, settings);
    const onWasm = await ENGINES['tfjs:wasm'].load(source, settings);
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? onCpu : onWasm).run({ x: f32([2, 4], x) })),
    );
    for (const r of runs) assert.ok(maxAbsDiff(values(r.y), values(runs[0]?.y)) < 1e-5);
    await onCpu.close();
    await onWasm.close();
  });

  it('a missing weight shard is an error naming it', async () => {
    const written = writeGraphModel(join(dir.path, 'broken'), w, b, 'none');
    const { rmSync } = await import('node:fs');
    rmSync(join(dir.path, 'broken', 'weights.bin'));
    await assert.rejects(readModelSource(written.path), /cannot read weight shard weights\.bin/);
  });
});
