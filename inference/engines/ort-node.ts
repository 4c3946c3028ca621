import type { EngineName } from '../../shared/index.js';
import type { ModelSource } from '../model/source.js';
import { type OrtRuntime, openOrtModel } from './ort-common.js';
import type { Engine, EngineSettings, LoadedModel } from './types.js';

/**
 * An onnxruntime-node engine on one execution provider. onnxruntime-node is imported on
 * first use, so a device that runs no ONNX model never loads it. Asking for a provider the
 * build or the host lacks (CUDA, TensorRT, WebGPU here) rejects with onnxruntime's error.
 */
export function ortNodeEngine(name: EngineName, provider: string): Engine {
  return {
    name,
    formats: ['onnx'],
    async load(source: ModelSource, settings: EngineSettings): Promise<LoadedModel> {
      if (source.format !== 'onnx') throw new Error(`${name} reads ONNX models, not ${source.format}`);
      const ort = (await import('onnxruntime-node')) as unknown as OrtRuntime;
      return openOrtModel(ort, name, provider, source.bytes, settings);
    },
  };
}
