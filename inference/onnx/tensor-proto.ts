import { OutpostError } from '../../shared/index.js';
import { allocate, bytesOf, elementCount, type HostTensor, viewOf } from '../tensor/host-tensor.js';
import { dtypeOfOnnx, ONNX_DTYPE } from './dtypes.js';
import type { ITensorProto } from './proto.js';

const toNumber = (v: number | { toNumber(): number }) => (typeof v === 'number' ? v : v.toNumber());

/** A host tensor as an ONNX TensorProto (initializer or constant), raw little-endian data. */
export function tensorProtoOf(name: string, tensor: HostTensor): ITensorProto {
  if (Array.isArray(tensor.data)) {
    return {
      name,
      dims: [...tensor.dims],
      dataType: ONNX_DTYPE.string,
      stringData: tensor.data.map((s) => Buffer.from(s, 'utf8')),
    };
  }
  return {
    name,
    dims: [...tensor.dims],
    dataType: ONNX_DTYPE[tensor.dtype],
    rawData: Uint8Array.from(bytesOf(tensor)),
  };
}

/**
 * An ONNX TensorProto as a host tensor (raw data or the typed fields). Throws
 * `INFER_MODEL_INVALID` for an element type Outpost does not carry or external data.
 */
export function hostTensorOf(proto: ITensorProto): HostTensor {
  const name = proto.name ?? '(unnamed)';
  const dtype = dtypeOfOnnx(proto.dataType);
  if (!dtype)
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `tensor ${name}: element type ${proto.dataType} is not supported`,
    );
  if (proto.externalData && proto.externalData.length > 0) {
    throw new OutpostError('INFER_MODEL_INVALID', `tensor ${name}: external data is not supported`);
  }
  const dims = (proto.dims ?? []).map(toNumber);
  const count = elementCount(dims);
  if (dtype === 'string') {
    return { dtype, dims, data: (proto.stringData ?? []).map((b) => Buffer.from(b).toString('utf8')) };
  }
  if (proto.rawData && proto.rawData.byteLength > 0)
    return { dtype, dims, data: viewOf(dtype, proto.rawData, count) };
  const data = allocate(dtype, count);
  const source: Array<number | { toNumber(): number }> =
    (proto.floatData?.length ? proto.floatData : undefined) ??
    (proto.doubleData?.length ? proto.doubleData : undefined) ??
    (proto.int64Data?.length ? proto.int64Data : undefined) ??
    (proto.uint64Data?.length ? proto.uint64Data : undefined) ??
    proto.int32Data ??
    [];
  for (let i = 0; i < count; i++) {
    const v = toNumber(source[i] ?? 0);
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v);
    else data[i] = v;
  }
  return { dtype, dims, data };
}
