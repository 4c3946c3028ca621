import {
  DIGIT_PIXELS,
  type DigitSet,
  loadDigits,
  type TensorMap,
  trainDigitClassifier,
} from '../../inference/index.js';

/** A digits classifier trained on 150 real MNIST digits per class (deterministic, ~1 s), and 100 held-out digits. */
export function digitsFixture(): { bytes: Uint8Array; trainAccuracy: number; test: DigitSet } {
  const model = trainDigitClassifier(loadDigits(150, 0), { epochs: 2 });
  return { ...model, test: loadDigits(10, 800) };
}

/** The set as input maps of `batch` digits each (`x` float32 [batch, 784]). */
export function digitBatches(set: DigitSet, batch: number): TensorMap[] {
  const out: TensorMap[] = [];
  for (let i = 0; i + batch <= set.labels.length; i += batch) {
    out.push({
      x: {
        dtype: 'float32',
        dims: [batch, DIGIT_PIXELS],
        data: set.pixels.slice(i * DIGIT_PIXELS, (i + batch) * DIGIT_PIXELS),
      },
    });
  }
  return out;
}

/** One digit as an input map (`x` float32 [1, 784]). */
export const oneDigit = (set: DigitSet, index: number): TensorMap => ({
  x: {
    dtype: 'float32',
    dims: [1, DIGIT_PIXELS],
    data: set.pixels.slice(index * DIGIT_PIXELS, (index + 1) * DIGIT_PIXELS),
  },
});
