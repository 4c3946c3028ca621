import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  convertFp16,
  decodeOnnxModel,
  ENGINES,
  evaluateVariant,
  type LoadedModel,
  OnnxModelBuilder,
  onnx,
  quantizeInt8,
  readOnnxSignature,
} from '../../inference/index.js';
import { OutpostError } from '../../shared/index.js';
import { runCli } from '../cli/run-cli.js';
import { tempDir } from '../helpers/agent.js';
import { digitBatches, digitsFixture } from '../helpers/digits.js';
import { f32, maxAbsDiff, seededFloats, values, writeModel } from '../helpers/models.js';

// Int8 and fp16 variants made in TypeScript, checked on real MNIST digits
// against the fp32 original (tolerances stated below), opened by onnxruntime's CPU provider.

const T = onnx.TensorProto.DataType;
const settings = { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) };
const open = (bytes: Uint8Array): Promise<LoadedModel> =>
  ENGINES['onnx:cpu'].load({ format: 'onnx', bytes }, settings);

/** Stated tolerances on the softmax probabilities of 100 held-out digits. */
const INT8_PROB_TOLERANCE = 0.05;
const FP16_PROB_TOLERANCE = 0.01;

describe('quantization', () => {
  let fixture: ReturnType<typeof digitsFixture>;
  before(() => {
    fixture = digitsFixture();
  });

  it('trains a real digits classifier (the model the variants come from)', () => {
    assert.ok(fixture.trainAccuracy > 0.8, `train accuracy ${fixture.trainAccuracy}`);
  });

  it('int8: weights stored as int8 behind DequantizeLinear; smaller; within tolerance on real digits', async () => {
    const result = quantizeInt8(fixture.bytes);
    assert.deepEqual(result.quantized.sort(), ['w1', 'w2']);
    assert.ok(result.bytes.byteLength < fixture.bytes.byteLength * 0.35, `${result.bytes.byteLength} bytes`);
    const graph = decodeOnnxModel(result.bytes).graph;
    const types = new Map((graph?.initializer ?? []).map((t) => [t.name, t.dataType]));
    assert.equal(types.get('w1_int8'), T.INT8);
    assert.equal(types.has('w1'), false, 'the float weight is gone');
    assert.equal((graph?.node ?? []).filter((n) => n.opType === 'DequantizeLinear').length, 2);
    assert.deepEqual(readOnnxSignature(result.bytes), readOnnxSignature(fixture.bytes), 'same interface');
    const [a, b] = [await open(fixture.bytes), await open(result.bytes)];
    let worst = 0;
    for (const set of digitBatches(fixture.test, 10)) {
      worst = Math.max(worst, maxAbsDiff(values((await a.run(set)).probs), values((await b.run(set)).probs)));
    }
    await a.close();
    await b.close();
    assert.ok(worst <= INT8_PROB_TOLERANCE, `max |Δp| ${worst}`);
    const evaluation = await evaluateVariant(fixture.bytes, result.bytes, digitBatches(fixture.test, 10), 1);
    assert.ok(evaluation.top1Agreement >= 0.97, `top-1 agreement ${evaluation.top1Agreement}`);
    assert.equal(evaluation.samples, 10);
  });

  it('int8 per tensor: one scale per weight', () => {
    const graph = decodeOnnxModel(quantizeInt8(fixture.bytes, { perChannel: false }).bytes).graph;
    const scale = (graph?.initializer ?? []).find((t) => t.name === 'w1_scale');
    assert.deepEqual(scale?.dims, []);
  });

  it('int8 leaves weights it cannot quantize in float32 and says why', () => {
    const bytes = new OnnxModelBuilder('two-inputs')
      .input('x', 'float32', [1, 4])
      .input('w', 'float32', [4, 4])
      .initializer('tiny', f32([4, 2], seededFloats(8, 3)))
      .node('MatMul', ['x', 'w'], ['h'])
      .node('MatMul', ['h', 'tiny'], ['y'])
      .output('y', 'float32', [1, 2])
      .build();
    const result = quantizeInt8(bytes);
    assert.deepEqual(result.quantized, []);
    assert.match(result.skipped[0]?.reason ?? '', /not an initializer/);
    assert.match(result.skipped[1]?.reason ?? '', /fewer than 16 elements/);
  });

  it('fp16: float16 inside, float32 at the interface through Casts; within tolerance', async () => {
    const result = convertFp16(fixture.bytes);
    assert.deepEqual(result.castInputs, ['x']);
    assert.deepEqual(result.castOutputs.sort(), ['logits', 'probs']);
    assert.ok(result.bytes.byteLength < fixture.bytes.byteLength * 0.55, `${result.bytes.byteLength} bytes`);
    const graph = decodeOnnxModel(result.bytes).graph;
    assert.ok((graph?.initializer ?? []).every((t) => t.dataType === T.FLOAT16));
    const model = await open(result.bytes);
    assert.deepEqual(
      model.signature.inputs.map((s) => [s.name, s.dtype]),
      [['x', 'float32']],
    );
    assert.deepEqual(
      model.signature.outputs.map((s) => [s.name, s.dtype]),
      [
        ['logits', 'float32'],
        ['probs', 'float32'],
      ],
    );
    const original = await open(fixture.bytes);
    let worst = 0;
    for (const set of digitBatches(fixture.test, 10)) {
      const out = await model.run(set);
      assert.equal(out.probs?.dtype, 'float32');
      worst = Math.max(worst, maxAbsDiff(values((await original.run(set)).probs), values(out.probs)));
    }
    await model.close();
    await original.close();
    assert.ok(worst <= FP16_PROB_TOLERANCE, `max |Δp| ${worst}`);
  });

  it('refuses bytes that are not ONNX, naming the problem', () => {
    assert.throws(
      () => quantizeInt8(Uint8Array.from([1, 2, 3, 4, 5])),
      (err: unknown) => err instanceof OutpostError && err.code === 'INFER_MODEL_INVALID',
    );
  });

  it('outpost models quantize writes the variant and prints size, speed and accuracy', async () => {
    const dir = tempDir();
    try {
      const input = writeModel(dir.path, 'digits.onnx', fixture.bytes);
      const out = join(dir.path, 'digits.int8.onnx');
      const ok = await runCli(['models', 'quantize', input, '--int8', '-o', out, '--samples', '8', '--json']);
      assert.equal(ok.code, 0, ok.stderr);
      const report = JSON.parse(ok.stdout) as Record<string, number | string>;
      assert.equal(report.precision, 'int8');
      assert.equal(report.samples, 8);
      assert.ok((report.variantBytes as number) < (report.originalBytes as number));
      for (const key of ['originalMs', 'variantMs', 'maxAbsDiff', 'top1Agreement'])
        assert.equal(typeof report[key], 'number', key);
      await (await open(new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(out))))).close();
      const fp16 = await runCli(['models', 'quantize', input, '--fp16', '-o', out, '--mnist', '50']);
      assert.equal(fp16.code, 0, fp16.stderr);
      assert.match(fp16.stdout, /over 5 input sets \(50 real MNIST digits\)/);
      assert.match(fp16.stdout, /top-1 agreement/);
      const bad = await runCli(['models', 'quantize', input, '--int8', '--fp16', '-o', out]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /one of --int8\/--fp16/);
    } finally {
      dir.remove();
    }
  });
});
