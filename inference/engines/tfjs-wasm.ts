import { openTfjsModel } from './tfjs-model.js';
import { importTf } from './tfjs-runtime.js';
import type { Engine } from './types.js';

/** `tfjs:wasm`: TF.js's WebAssembly backend (XNNPACK); about twice the cpu backend in Node. */
export const tfjsWasmEngine: Engine = {
  name: 'tfjs:wasm',
  formats: ['tfjs-graph', 'tfjs-layers'],
  async load(source) {
    if (source.format === 'onnx') throw new Error('tfjs:wasm reads TF.js models, not ONNX');
    const tf = await importTf();
    await import('@tensorflow/tfjs-backend-wasm');
    return openTfjsModel(tf, 'tfjs:wasm', 'wasm', source);
  },
};
