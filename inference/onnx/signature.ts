import { OutpostError, type TensorSpec } from '../../shared/index.js';
import type { ModelSignature } from '../signature/validate.js';
import { dtypeOfOnnx } from './dtypes.js';
import { decodeOnnxModel, type IValueInfoProto } from './proto.js';

function spec(info: IValueInfoProto, role: string): TensorSpec {
  const name = info.name ?? '';
  const tensorType = info.type?.tensorType;
  if (!tensorType) throw new OutpostError('INFER_MODEL_INVALID', `${role} "${name}" is not a tensor`);
  const dtype = dtypeOfOnnx(tensorType.elemType);
  if (!dtype) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${role} "${name}": element type ${tensorType.elemType} is not supported`,
    );
  }
  const shape = (tensorType.shape?.dim ?? []).map((d) => {
    if (d.dimParam) return d.dimParam;
    if (d.dimValue !== null && d.dimValue !== undefined) {
      const v = typeof d.dimValue === 'number' ? d.dimValue : d.dimValue.toNumber();
      return v > 0 ? v : -1;
    }
    return -1;
  });
  return { name, dtype, shape };
}

/**
 * The signature an ONNX model declares: graph inputs that are not initializers (older
 * exporters list weights as inputs too) and graph outputs, with dtypes and shapes (named
 * dims stay names, unknown dims are -1). Throws `INFER_MODEL_INVALID`.
 */
export function readOnnxSignature(bytes: Uint8Array): ModelSignature {
  const graph = decodeOnnxModel(bytes).graph;
  const weights = new Set((graph?.initializer ?? []).map((t) => t.name));
  const inputs = (graph?.input ?? []).filter((i) => !weights.has(i.name)).map((i) => spec(i, 'input'));
  const outputs = (graph?.output ?? []).map((o) => spec(o, 'output'));
  if (inputs.length === 0 || outputs.length === 0) {
    throw new OutpostError('INFER_MODEL_INVALID', 'the ONNX graph declares no inputs or no outputs');
  }
  return { inputs, outputs };
}
