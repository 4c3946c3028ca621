import { type EngineName, EngineNameSchema } from '../../shared/index.js';
import { onnxCpuEngine } from './onnx-cpu.js';
import { onnxCudaEngine } from './onnx-cuda.js';
import { onnxTensorrtEngine } from './onnx-tensorrt.js';
import { onnxWebWasmEngine } from './onnx-web-wasm.js';
import { onnxWebgpuEngine } from './onnx-webgpu.js';
import { tfjsCpuEngine } from './tfjs-cpu.js';
import { tfjsNodeEngine } from './tfjs-node.js';
import { tfjsWasmEngine } from './tfjs-wasm.js';
import type { Engine } from './types.js';

/** Every engine, by name (docs/architecture.md "Engines"): the one table `EngineNameSchema` picks from. */
export const ENGINES: Readonly<Record<EngineName, Engine>> = {
  'onnx:tensorrt': onnxTensorrtEngine,
  'onnx:cuda': onnxCudaEngine,
  'onnx:webgpu': onnxWebgpuEngine,
  'onnx:cpu': onnxCpuEngine,
  'onnx-web:wasm': onnxWebWasmEngine,
  'tfjs:node': tfjsNodeEngine,
  'tfjs:wasm': tfjsWasmEngine,
  'tfjs:cpu': tfjsCpuEngine,
};

/** The engine called `name`; an unknown name is a zod error naming the valid ones. */
export function engineNamed(name: string): Engine {
  return ENGINES[EngineNameSchema.parse(name)];
}
