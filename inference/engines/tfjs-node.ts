import { openTfjsModel } from './tfjs-model.js';
import { importTf } from './tfjs-runtime.js';
import type { Engine } from './types.js';

/**
 * The optional native binding: not a dependency (its install downloads libtensorflow),
 * so it is imported by a name the compiler does not resolve; where it is absent the engine
 * is rejected with the real "Cannot find package" error.
 */
const TFJS_NODE_PACKAGE = '@tensorflow/tfjs-node';

/** `tfjs:node`: TF.js on libtensorflow (backend `tensorflow`), only where @tensorflow/tfjs-node loads. */
export const tfjsNodeEngine: Engine = {
  name: 'tfjs:node',
  formats: ['tfjs-graph', 'tfjs-layers'],
  async load(source) {
    if (source.format === 'onnx') throw new Error('tfjs:node reads TF.js models, not ONNX');
    await import(TFJS_NODE_PACKAGE);
    return openTfjsModel(await importTf(), 'tfjs:node', 'tensorflow', source);
  },
};
