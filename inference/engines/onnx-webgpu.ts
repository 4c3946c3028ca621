import { ortNodeEngine } from './ort-node.js';

/** `onnx:webgpu`: onnxruntime-node with the WebGPU provider (bundled; Dawn needs a Vulkan adapter, so it opens only where a GPU driver is present). */
export const onnxWebgpuEngine = ortNodeEngine('onnx:webgpu', 'webgpu');
