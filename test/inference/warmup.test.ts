import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { admitModel, type EngineSettings, metadataWarmups, tensorToJson } from '../../inference/index.js';
import type { EngineName } from '../../shared/index.js';
import { zooFile, zooInputs, zooModel } from '../conformance/zoo.js';
import { needsRealInputsModel } from '../helpers/models.js';

// Warm-up on real models: a stateful audio model whose dynamic dims must be more than 1 and
// whose int64 scalar is a sample rate, sample inputs, and a model no metadata input set runs.

const log = pino({ level: 'silent' });
const settings = (): Omit<EngineSettings, 'log'> => ({ intraOpThreads: 1, interOpThreads: 1, options: {} });
const silero = () => ({ format: 'onnx' as const, bytes: readFileSync(zooFile(zooModel('silero-vad-v5'))) });

describe('warm-up inputs', () => {
  it('from metadata: batch dims 1, other dynamic dims from the ladder, a sample-rate scalar 16000', () => {
    const sets = metadataWarmups([
      { name: 'input', dtype: 'float32', shape: [-1, -1] },
      { name: 'state', dtype: 'float32', shape: [2, -1, 128] },
      { name: 'sr', dtype: 'int64', shape: [] },
    ]);
    assert.deepEqual(
      sets.map((s) => s.inputs.input?.dims),
      [
        [1, 16],
        [1, 64],
        [1, 512],
        [1, 1],
      ],
    );
    assert.deepEqual(sets[0]?.inputs.state?.dims, [2, 1, 128]);
    assert.deepEqual(Array.from(sets[0]?.inputs.sr?.data as BigInt64Array), [16000n]);
    const named = metadataWarmups([
      { name: 'x', dtype: 'float32', shape: ['batch', 3, 'h', 'w'] },
      { name: 'mask', dtype: 'int32', shape: ['batch', 'h'] },
    ]);
    assert.deepEqual(named[1]?.inputs.x?.dims, [1, 3, 64, 64]);
    assert.deepEqual(named[1]?.inputs.mask?.dims, [1, 64]);
    assert.equal(metadataWarmups([{ name: 'x', dtype: 'float32', shape: [-1, 4] }]).length, 1);
  });

  for (const engine of ['onnx:cpu', 'onnx-web:wasm'] as EngineName[]) {
    it(`${engine} admits Silero VAD v5 without a reference, recording the sizes that ran`, async () => {
      const result = await admitModel({
        label: 'silero',
        source: silero(),
        engines: [engine],
        settingsFor: settings,
        log,
      });
      assert.equal(result.model?.engine, engine, JSON.stringify(result.rejected));
      // Unnamed dynamic dims read as -1 on both runtimes (onnxruntime-web reports 2^32 − 1).
      assert.deepEqual(result.model?.signature.inputs[0]?.shape, [-1, -1]);
      await result.model?.close();
      assert.deepEqual(result.rejected, []);
      assert.equal(result.warmup?.source, 'metadata');
      assert.deepEqual(result.warmup?.dims, { input: [1, 512], state: [2, 1, 128], sr: [] });
    });
  }

  it('sample inputs come before metadata; a sample that does not fit is refused naming the tensor', async () => {
    const real = zooInputs(zooModel('silero-vad-v5'), 3);
    const samples = Object.fromEntries(Object.entries(real).map(([k, v]) => [k, tensorToJson(v)]));
    const ok = await admitModel({
      label: 'silero',
      source: silero(),
      samples,
      engines: ['onnx:cpu'],
      settingsFor: settings,
      log,
    });
    await ok.model?.close();
    assert.deepEqual(ok.warmup, { source: 'sample', dims: { input: [1, 512], state: [2, 1, 128], sr: [] } });
    const bad = await admitModel({
      label: 'silero',
      source: silero(),
      samples: {
        ...samples,
        state: tensorToJson({ dtype: 'float32', dims: [2, 1, 64], data: new Float32Array(128) }),
      },
      engines: ['onnx:cpu'],
      settingsFor: settings,
      log,
    });
    assert.equal(bad.model, undefined);
    assert.equal(bad.rejected[0]?.stage, 'warmup');
    assert.match(bad.rejected[0]?.reason ?? '', /"state".*dim 2 = 128/);
  });

  it('a model no metadata input set can run is admitted unwarmed with the reason, or refused by policy', async () => {
    const source = { format: 'onnx' as const, bytes: needsRealInputsModel() };
    const engines: EngineName[] = ['onnx:cpu', 'onnx-web:wasm'];
    const admitted = await admitModel({ label: 'r', source, engines, settingsFor: settings, log });
    assert.equal(admitted.model?.engine, 'onnx:cpu');
    assert.equal(admitted.warmup?.source, 'none');
    assert.match(admitted.warmup?.reason ?? '', /admitted onnx:cpu on its opened session without a warm-up/);
    assert.match(admitted.warmup?.reason ?? '', /other dynamic dims 512: .*requested shape:\{1000\}/s);
    // The next engine was tried too, and its failure is kept.
    assert.deepEqual(
      admitted.rejected.map((r) => [r.engine, r.stage]),
      [['onnx-web:wasm', 'warmup']],
    );
    const y = await admitted.model?.run({
      x: { dtype: 'float32', dims: [1000], data: new Float32Array(1000) },
    });
    assert.deepEqual(y?.y?.dims, [1000]);
    await admitted.model?.close();
    const refused = await admitModel({
      label: 'r',
      source,
      engines,
      unwarmed: 'refuse',
      settingsFor: settings,
      log,
    });
    assert.equal(refused.model, undefined);
    assert.deepEqual(
      refused.rejected.map((r) => [r.engine, r.stage]),
      [
        ['onnx:cpu', 'warmup'],
        ['onnx-web:wasm', 'warmup'],
      ],
    );
  });
});
