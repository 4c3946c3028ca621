import { ortNodeEngine } from './ort-node.js';

/** `onnx:tensorrt`: onnxruntime-node with the TensorRT provider; opens only where TensorRT and CUDA are installed (Jetson, x86 CUDA hosts). */
export const onnxTensorrtEngine = ortNodeEngine('onnx:tensorrt', 'tensorrt');
