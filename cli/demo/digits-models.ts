import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  DIGIT_PIXELS,
  type DigitSet,
  ENGINES,
  loadDigits,
  quantizeInt8,
  trainDigitClassifier,
} from '../../inference/index.js';

/** The demo's models, made by the project's own code from real MNIST digits. */
export interface DemoModels {
  /** The device model (fp32 and its int8 variant) and the hub's bigger model, on disk. */
  fp32File: string;
  int8File: string;
  hubFile: string;
  fp32Bytes: number;
  int8Bytes: number;
  trainAccuracy: number;
  /** Held-out digits the devices classify. */
  test: DigitSet;
  /** Index in `test` of the digit the device model is least sure of, and its confidence. */
  leastSure: { index: number; confidence: number };
  /** A local-first threshold below which only that digit falls. */
  threshold: number;
}

/** One held-out digit as the JSON tensors the local API takes. */
export function digitInputs(set: DigitSet, index: number): Record<string, unknown> {
  return {
    x: {
      dtype: 'float32',
      dims: [1, DIGIT_PIXELS],
      data: Array.from(set.pixels.subarray(index * DIGIT_PIXELS, (index + 1) * DIGIT_PIXELS)),
    },
  };
}

/**
 * Trains the device model (784→32→10, 300 digits per class) and the hub's bigger one
 * (784→96→10, 400 per class) in TypeScript, quantizes the device model to int8, writes the
 * device files to `dir` and the hub's to `{hubDataDir}/models/digits-big.onnx` (which the
 * hub serves on `POST /v1/infer/digits-big`). Scores `testCount` held-out digits with the
 * device model to pick the least confident one for the escalation.
 */
export async function prepareDemoModels(
  dir: string,
  hubDataDir: string,
  testCount: number,
): Promise<DemoModels> {
  const small = trainDigitClassifier(loadDigits(300, 0), { hidden: 32, epochs: 2 });
  const big = trainDigitClassifier(loadDigits(400, 300), { hidden: 96, epochs: 2, seed: 7 });
  const int8 = quantizeInt8(small.bytes).bytes;
  await mkdir(dir, { recursive: true });
  await mkdir(join(hubDataDir, 'models'), { recursive: true });
  const fp32File = join(dir, 'digits.onnx');
  const int8File = join(dir, 'digits.int8.onnx');
  const hubFile = join(hubDataDir, 'models', 'digits-big.onnx');
  await writeFile(fp32File, small.bytes);
  await writeFile(int8File, int8);
  await writeFile(hubFile, big.bytes);
  const test = loadDigits(Math.ceil(testCount / 10), 800);
  const model = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes: small.bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  const n = test.labels.length;
  const out = await model.run({ x: { dtype: 'float32', dims: [n, DIGIT_PIXELS], data: test.pixels } });
  await model.close();
  const probs = out.probs?.data as Float32Array;
  const confidences = Array.from({ length: n }, (_, i) => Math.max(...probs.subarray(i * 10, i * 10 + 10)));
  const order = confidences.map((c, i) => [c, i] as const).sort((a, b) => a[0] - b[0]);
  const [lowest, next] = [order[0] ?? [0, 0], order[1] ?? [1, 0]];
  return {
    fp32File,
    int8File,
    hubFile,
    fp32Bytes: small.bytes.byteLength,
    int8Bytes: int8.byteLength,
    trainAccuracy: small.trainAccuracy,
    test,
    leastSure: { index: lowest[1], confidence: lowest[0] },
    threshold: (lowest[0] + next[0]) / 2,
  };
}
