import type { HostTensor } from '../tensor/host-tensor.js';
import { DIGIT_PIXELS, type DigitSet } from './mnist.js';

const SIDE = 28;

/**
 * Real MNIST digits laid out as an RGB image, the input of an image model that reads text
 * (OCR detection, recognition, orientation): `[1, 3, height, width]`, dark ink on a white
 * page, normalised as PaddleOCR expects ((v − 0.5) / 0.5, so −1 to 1). Digits `first`,
 * `first + 1`, … of `set` go left to right in rows of 28-pixel cells with 4 pixels between
 * them, rows 36 pixels apart, starting at (4, top) where top centres a single row; as many as fit.
 */
export function digitPageImage(set: DigitSet, first: number, height: number, width: number): HostTensor {
  const data = new Float32Array(3 * height * width).fill(1);
  const perRow = Math.max(1, Math.floor((width - 4) / (SIDE + 4)));
  const rows = Math.max(1, Math.floor((height - 4) / (SIDE + 8)));
  const top = rows === 1 ? Math.max(0, Math.floor((height - SIDE) / 2)) : 4;
  const count = set.labels.length;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < perRow; c++) {
      const digit = (first + r * perRow + c) % count;
      const y0 = top + r * (SIDE + 8);
      const x0 = 4 + c * (SIDE + 4);
      for (let y = 0; y < SIDE && y0 + y < height; y++) {
        for (let x = 0; x < SIDE && x0 + x < width; x++) {
          const ink = set.pixels[digit * DIGIT_PIXELS + y * SIDE + x] as number;
          for (let ch = 0; ch < 3; ch++) data[ch * height * width + (y0 + y) * width + x0 + x] = 1 - 2 * ink;
        }
      }
    }
  }
  return { dtype: 'float32', dims: [1, 3, height, width], data };
}
