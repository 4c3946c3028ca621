import type { TensorSpec } from '../../shared/index.js';
import { allocate, elementCount, type HostTensor, type TensorMap } from '../tensor/host-tensor.js';

/**
 * Zero-valued inputs that fit a signature, for a warm-up run when the manifest has no
 * reference: fixed dims as declared, dynamic dims (named or -1) as 1.
 */
export function zeroInputs(inputs: readonly TensorSpec[]): TensorMap {
  const out: TensorMap = {};
  for (const spec of inputs) {
    const dims = spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
    const count = elementCount(dims);
    const tensor: HostTensor =
      spec.dtype === 'string'
        ? { dtype: 'string', dims, data: new Array<string>(count).fill('') }
        : { dtype: spec.dtype, dims, data: allocate(spec.dtype, count) };
    out[spec.name] = tensor;
  }
  return out;
}
