import { ortNodeEngine } from './ort-node.js';

/** `onnx:cuda`: onnxruntime-node with the CUDA provider; its libraries are not bundled with onnxruntime-node, so it opens only where CUDA 12 and the provider library are installed. */
export const onnxCudaEngine = ortNodeEngine('onnx:cuda', 'cuda');
