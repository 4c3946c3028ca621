import { DIGIT_PIXELS, loadDigits } from '../../inference/index.js';
import type { Samples } from '../types.js';

/** Train/test digits of the simulation. */
export interface MnistSplit {
  train: Samples;
  test: Samples;
}

/**
 * Real MNIST digits from the `mnist` package, split deterministically: the first
 * `trainPerClass` samples of every class train (default 700 → 7 000), the next
 * `testPerClass` are held out (default 150 → 1 500). The package has 863–1 127 per class.
 */
export function loadMnistSplit(trainPerClass = 700, testPerClass = 150): MnistSplit {
  // One read of the package: loadDigits interleaves the classes (row i·10 + d is sample i of
  // digit d), so the first trainPerClass·10 rows are samples [0, trainPerClass) of every class.
  const all = loadDigits(trainPerClass + testPerClass, 0);
  const cut = trainPerClass * 10;
  const part = (from: number, to: number): Samples => ({
    x: all.pixels.slice(from * DIGIT_PIXELS, to * DIGIT_PIXELS),
    y: all.labels.slice(from, to),
    count: to - from,
    features: DIGIT_PIXELS,
  });
  return { train: part(0, cut), test: part(cut, all.labels.length) };
}

/** The rows `rows` of `samples` as a new sample set. */
export function subset(samples: Samples, rows: ArrayLike<number>): Samples {
  const { features } = samples;
  const x = new Float32Array(rows.length * features);
  const y = new Uint8Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as number;
    x.set(samples.x.subarray(r * features, (r + 1) * features), i * features);
    y[i] = samples.y[r] as number;
  }
  return { x, y, count: rows.length, features };
}
