import type { ModelSource } from '../model/source.js';
import { type OrtRuntime, openOrtModel } from './ort-common.js';
import type { Engine, EngineSettings, LoadedModel } from './types.js';

/**
 * `onnx-web:wasm`: onnxruntime-web's WebAssembly CPU backend, which runs in Node as in a
 * browser — the portable fallback where onnxruntime-node's native binary cannot load.
 * Single-threaded: onnxruntime-web's thread count is process-wide state of that library
 * (`env.wasm.numThreads`), set to 1 here before its first session.
 */
export const onnxWebWasmEngine: Engine = {
  name: 'onnx-web:wasm',
  formats: ['onnx'],
  async load(source: ModelSource, settings: EngineSettings): Promise<LoadedModel> {
    if (source.format !== 'onnx') throw new Error(`onnx-web:wasm reads ONNX models, not ${source.format}`);
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    return openOrtModel(ort as unknown as OrtRuntime, 'onnx-web:wasm', 'wasm', source.bytes, {
      ...settings,
      intraOpThreads: 1,
      interOpThreads: 1,
    });
  },
};
