import { OnnxModelBuilder } from '../../inference/index.js';

/**
 * An ONNX model of about `bytes` bytes (x [1, 4] · w [4, n] → y [1, n]), so the benchmark's
 * artifact is a real model the registry can load and sign. Weights are pseudo-random, so the
 * bytes do not compress.
 */
export function bigModel(bytes: number): Uint8Array {
  const n = Math.max(1, Math.floor(bytes / 16));
  const w = new Float32Array(4 * n);
  let s = 12345;
  for (let i = 0; i < w.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = s / 2 ** 32 - 0.5;
  }
  return new OnnxModelBuilder('bench')
    .input('x', 'float32', [1, 4])
    .initializer('w', { dtype: 'float32', dims: [4, n], data: w })
    .node('MatMul', ['x', 'w'], ['y'])
    .output('y', 'float32', [1, n])
    .build();
}
