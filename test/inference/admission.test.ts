import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { admitModel, ENGINES, type EngineSettings, tensorToJson } from '../../inference/index.js';
import type { EngineName, EngineOptions, Manifest } from '../../shared/index.js';
import { classifierModel, f32, geluModel } from '../helpers/models.js';

// On this GPU-less machine: TensorRT and CUDA are really absent, so admission falls back
// with their real errors (WebGPU runs here on a software Vulkan adapter: see
// test/conformance/webgpu.test.ts); and an engine whose outputs disagree with the
// manifest's reference is refused, with the output, the worst element and the tolerance.

const log = pino({ level: 'silent' });
const settings = (options: EngineOptions = {}): Omit<EngineSettings, 'log'> => ({
  intraOpThreads: 1,
  interOpThreads: 1,
  options,
});

/** The reference: outputs of the exact model on onnx:cpu with no approximation. */
async function referenceFor(bytes: Uint8Array, x: number[]): Promise<NonNullable<Manifest['reference']>> {
  const model = await ENGINES['onnx:cpu'].load({ format: 'onnx', bytes }, { ...settings(), log });
  const out = await model.run({ x: f32([2, 4], x) });
  await model.close();
  return {
    inputs: { x: tensorToJson(f32([2, 4], x)) },
    outputs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, tensorToJson(v)])),
    tolerance: { abs: 1e-6, rel: 1e-6 },
  };
}

const X = [0.9, -1.3, 0.4, 2.1, -0.7, 0.2, 1.6, -2.2];

describe('engine admission', () => {
  it('falls back from onnx:tensorrt and onnx:cuda to onnx:cpu, keeping their real errors', async () => {
    const { bytes } = classifierModel();
    const result = await admitModel({
      label: 'classifier@1.0.0',
      source: { format: 'onnx', bytes },
      engines: ['onnx:tensorrt', 'onnx:cuda', 'onnx:cpu'],
      settingsFor: () => settings(),
      log,
    });
    assert.equal(result.model?.engine, 'onnx:cpu');
    await result.model?.close();
    assert.deepEqual(
      result.rejected.map((r) => [r.engine, r.stage]),
      [
        ['onnx:tensorrt', 'load'],
        ['onnx:cuda', 'load'],
      ],
    );
    const [trt, cuda] = result.rejected;
    // onnxruntime's own messages: the provider libraries are not installed here.
    assert.match(trt?.reason ?? '', /TensorRT.*Failed to load shared library/s);
    assert.match(cuda?.reason ?? '', /Cuda.*Failed to load shared library/s);
  });

  it('refuses an engine whose option really changes the numbers (GELU approximation) and admits the next', async () => {
    const bytes = geluModel();
    const reference = await referenceFor(bytes, X);
    const engines: EngineName[] = ['onnx:cuda', 'onnx:cpu', 'onnx-web:wasm'];
    const result = await admitModel({
      label: 'gelu@1.0.0',
      source: { format: 'onnx', bytes },
      reference,
      engines,
      settingsFor: (engine) => settings(engine === 'onnx:cpu' ? { approximateGelu: true } : {}),
      log,
    });
    assert.equal(result.model?.engine, 'onnx-web:wasm');
    await result.model?.close();
    assert.deepEqual(
      result.rejected.map((r) => [r.engine, r.stage]),
      [
        ['onnx:cuda', 'load'],
        ['onnx:cpu', 'reference'],
      ],
    );
    const refused = result.rejected[1];
    const m = refused?.mismatch;
    assert.ok(m, 'the mismatch is kept');
    assert.equal(m.output, 'y');
    assert.ok(m.index >= 0 && m.index < 8);
    assert.ok(m.maxAbsDiff !== null && m.maxAbsDiff > 1e-6, `max abs diff ${m.maxAbsDiff}`);
    assert.deepEqual(m.tolerance, { abs: 1e-6, rel: 1e-6 });
    assert.notEqual(m.expected, m.received);
    assert.match(
      refused?.reason ?? '',
      /output "y" disagrees with the reference: element \d+ is .* max abs diff .* exceeds tolerance abs 0.000001 \+ rel 0.000001/,
    );
  });

  it('the same engine is admitted without the approximation (the refusal was the numbers, not the engine)', async () => {
    const bytes = geluModel();
    const reference = await referenceFor(bytes, X);
    const result = await admitModel({
      label: 'gelu@1.0.0',
      source: { format: 'onnx', bytes },
      reference,
      engines: ['onnx:cpu'],
      settingsFor: () => settings(),
      log,
    });
    assert.equal(result.model?.engine, 'onnx:cpu');
    assert.deepEqual(result.rejected, []);
    await result.model?.close();
  });

  it('refuses every engine when the reference was computed for other weights', async () => {
    const reference = await referenceFor(geluModel(7), X);
    const result = await admitModel({
      label: 'gelu@2.0.0',
      source: { format: 'onnx', bytes: geluModel(8) },
      reference,
      engines: ['onnx:cpu', 'onnx-web:wasm', 'tfjs:cpu'],
      settingsFor: () => settings(),
      log,
    });
    assert.equal(result.model, undefined);
    assert.deepEqual(
      result.rejected.map((r) => [r.engine, r.stage]),
      [
        ['onnx:cpu', 'reference'],
        ['onnx-web:wasm', 'reference'],
        ['tfjs:cpu', 'unsupported'],
      ],
    );
    for (const r of result.rejected.slice(0, 2)) assert.ok((r.mismatch?.maxAbsDiff ?? 0) > 0.01, r.reason);
  });

  it('a warm-up run without a reference uses inputs made from the signature', async () => {
    const result = await admitModel({
      label: 'classifier@1.0.0',
      source: { format: 'onnx', bytes: classifierModel().bytes },
      engines: ['onnx-web:wasm'],
      settingsFor: () => settings(),
      log,
    });
    assert.equal(result.model?.engine, 'onnx-web:wasm');
    await result.model?.close();
  });

  it('tfjs:node is rejected with the real import error where @tensorflow/tfjs-node is absent', async (t) => {
    try {
      await import(['@tensorflow', 'tfjs-node'].join('/'));
      t.skip('@tensorflow/tfjs-node is installed here');
      return;
    } catch {}
    await assert.rejects(
      ENGINES['tfjs:node'].load(
        {
          format: 'tfjs-layers',
          modelJsonBytes: new Uint8Array(),
          modelJson: { modelTopology: {}, weightsManifest: [] },
          shards: new Map(),
        },
        { ...settings(), log },
      ),
      /Cannot find (package|module) '@tensorflow\/tfjs-node'/,
    );
  });
});
