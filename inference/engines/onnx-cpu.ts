import { ortNodeEngine } from './ort-node.js';

/** `onnx:cpu`: onnxruntime-node with the CPU provider, bundled everywhere onnxruntime-node installs. */
export const onnxCpuEngine = ortNodeEngine('onnx:cpu', 'cpu');
