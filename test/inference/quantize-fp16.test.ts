import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  convertFp16,
  decodeOnnxModel,
  evaluateVariant,
  OnnxModelBuilder,
  onnx,
  runAll,
} from '../../inference/index.js';
import { runCli } from '../cli/run-cli.js';
import { tempDir } from '../helpers/agent.js';
import { f32, seededFloats, writeModel } from '../helpers/models.js';
import {
  digitImages,
  OCR_CLASSIFIER,
  OCR_DETECTOR,
  packagedModel,
  SILERO_V4,
  SILERO_V5,
  WAKEWORD_HEAD,
} from '../helpers/zoo-models.js';

// fp16 on real models: shape-carrying inputs (Resize scales) and normalisations stay float32,
// the result opens and runs on onnxruntime's CPU provider, and a conversion that does not run
// never reaches the output path.

const T = onnx.TensorProto.DataType;
/** Stated tolerance on the text detector's probability map (0-1) over real digit images. */
const DETECTOR_TOLERANCE = 0.05;

describe('fp16 on real models', () => {
  it('a CNN text detector with Resize: scales stay float32, it runs, output within tolerance', async () => {
    const original = packagedModel(OCR_DETECTOR);
    const result = convertFp16(original);
    const graph = decodeOnnxModel(result.bytes).graph;
    // Constants are hoisted to initializers; every Resize's scales must be one, in float32.
    const inits = new Map((graph?.initializer ?? []).map((t) => [t.name, t]));
    const resizes = (graph?.node ?? []).filter((n) => n.opType === 'Resize');
    assert.ok(resizes.length > 0);
    for (const r of resizes) {
      const scales = inits.get(r.input?.[2] ?? '');
      assert.ok(scales, `${r.name} scales are a constant`);
      assert.equal(scales.dataType, T.FLOAT, `${r.name} scales`);
      assert.ok(scales.dims?.length === 1 && Number(scales.dims[0]) === 4, `${r.name} scales shape`);
    }
    assert.ok(result.converted.length > 50, `${result.converted.length} tensors converted`);
    assert.ok(result.bytes.byteLength <= original.byteLength * 0.55, `${result.bytes.byteLength} bytes`);
    const e = await evaluateVariant(original, result.bytes, digitImages(2, 96, 160), 1);
    assert.ok(e.maxAbsDiff <= DETECTOR_TOLERANCE, `max |diff| ${e.maxAbsDiff}`);
  });

  it('a CNN classifier with BatchNormalization: folded into its Convs (float16 cannot hold its variances), ≤ 0.55× size, within 0.01', async () => {
    const original = packagedModel(OCR_CLASSIFIER);
    const result = convertFp16(original);
    const ops = (decodeOnnxModel(result.bytes).graph?.node ?? []).map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'BatchNormalization').length, 0);
    assert.ok(result.bytes.byteLength <= original.byteLength * 0.55, `${result.bytes.byteLength} bytes`);
    const e = await evaluateVariant(original, result.bytes, digitImages(2, 48, 192), 1);
    assert.ok(e.maxAbsDiff <= 0.01, `max |diff| ${e.maxAbsDiff}`);
  });

  it('a stateful VAD whose weights live in If branches: the branches are converted, ≤ 0.55× size, speech probability within 1e-3', async () => {
    const original = packagedModel(SILERO_V5);
    const result = convertFp16(original);
    assert.ok(result.bytes.byteLength <= original.byteLength * 0.55, `${result.bytes.byteLength} bytes`);
    const audio = seededFloats(512, 5);
    const set = {
      input: f32([1, 512], audio),
      state: f32([2, 1, 128], new Float32Array(256)),
      sr: { dtype: 'int64' as const, dims: [], data: BigInt64Array.of(16000n) },
    };
    const [a, b] = [await runAll(original, [set], 'fp32'), await runAll(result.bytes, [set], 'fp16')];
    const p = (r: typeof a) => Number(r[0]?.output?.data[0]);
    assert.ok(Math.abs(p(a) - p(b)) <= 1e-3, `speech probability ${p(a)} vs ${p(b)}`);
  });

  it('outpost models quantize --fp16 refuses a conversion whose outputs move by more than 10% (Silero VAD v4 states), leaving no file', async () => {
    const dir = tempDir();
    try {
      const input = writeModel(dir.path, 'vad4.onnx', packagedModel(SILERO_V4));
      const zeros = (dims: number[]) => ({
        dtype: 'float32',
        dims,
        data: new Array(dims.reduce((x, y) => x * y, 1)).fill(0),
      });
      const set = {
        input: { dtype: 'float32', dims: [1, 1536], data: Array.from(seededFloats(1536, 3)) },
        h: zeros([2, 1, 64]),
        c: zeros([2, 1, 64]),
        sr: { dtype: 'int64', dims: [], data: [16000] },
      };
      const file = join(dir.path, 'audio.json');
      writeFileSync(file, JSON.stringify(set));
      const out = join(dir.path, 'vad4.fp16.onnx');
      const run = await runCli(['models', 'quantize', input, '--fp16', '-o', out, '--inputs', file]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /output "(output|hn|cn)" moves by up to .* \(more than 10%\); .*vad4\.fp16\.onnx was not written/s,
      );
      assert.equal(existsSync(out), false);
      assert.deepEqual(
        readdirSync(dir.path).filter((f) => f.endsWith('.tmp')),
        [],
      );
    } finally {
      dir.remove();
    }
  });

  it('a Gemm MLP head (wake word): half the size, within 1e-3', async () => {
    const original = packagedModel(WAKEWORD_HEAD);
    const result = convertFp16(original);
    assert.ok(result.bytes.byteLength <= original.byteLength * 0.55);
    const x = { 'onnx::Flatten_0': f32([1, 25, 96], seededFloats(2400, 9)) };
    const e = await evaluateVariant(original, result.bytes, [x], 1);
    assert.ok(e.maxAbsDiff <= 1e-3, `max |diff| ${e.maxAbsDiff}`);
  });

  it('outpost models quantize --fp16 writes a detector that runs; a conversion that does not run leaves the output path untouched, exit 2', async () => {
    const dir = tempDir();
    try {
      const detector = writeModel(dir.path, 'det.onnx', packagedModel(OCR_DETECTOR));
      const out = join(dir.path, 'det.fp16.onnx');
      const ok = await runCli([
        'models',
        'quantize',
        detector,
        '--fp16',
        '-o',
        out,
        '--samples',
        '1',
        '--json',
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(existsSync(out));
      // EyeLike's dtype attribute fixes its output at float32, which the converter does not follow:
      // the converted model mixes float16 and float32 in Add and onnxruntime refuses it.
      const eye = new OnnxModelBuilder('eye')
        .input('x', 'float32', [2, 2])
        .node('EyeLike', ['x'], ['e'], { dtype: T.FLOAT })
        .node('Add', ['x', 'e'], ['y'])
        .output('y', 'float32', [2, 2])
        .build();
      const input = writeModel(dir.path, 'eye.onnx', eye);
      const target = join(dir.path, 'eye.fp16.onnx');
      writeFileSync(target, 'previous contents');
      const bad = await runCli(['models', 'quantize', input, '--fp16', '-o', target, '--samples', '1']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(
        bad.stderr,
        /the converted model does not open on onnx:cpu: .*eye\.fp16\.onnx was not written/s,
      );
      assert.equal(readFileSync(target, 'utf8'), 'previous contents');
      assert.deepEqual(
        readdirSync(dir.path).filter((f) => f.endsWith('.tmp')),
        [],
      );
    } finally {
      dir.remove();
    }
  });
});
