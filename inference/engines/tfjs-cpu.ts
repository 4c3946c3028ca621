import { openTfjsModel } from './tfjs-model.js';
import { importTf } from './tfjs-runtime.js';
import type { Engine } from './types.js';

/** `tfjs:cpu`: TF.js's pure-JavaScript backend; runs anywhere, slowest. */
export const tfjsCpuEngine: Engine = {
  name: 'tfjs:cpu',
  formats: ['tfjs-graph', 'tfjs-layers'],
  async load(source) {
    if (source.format === 'onnx') throw new Error('tfjs:cpu reads TF.js models, not ONNX');
    return openTfjsModel(await importTf(), 'tfjs:cpu', 'cpu', source);
  },
};
