import type { TensorDtype } from '../tensor/host-tensor.js';
import { onnx } from './proto.js';

const T = onnx.TensorProto.DataType;

/** ONNX `TensorProto.DataType` of each dtype. */
export const ONNX_DTYPE: Record<TensorDtype, number> = {
  float32: T.FLOAT,
  float16: T.FLOAT16,
  float64: T.DOUBLE,
  int8: T.INT8,
  uint8: T.UINT8,
  int16: T.INT16,
  uint16: T.UINT16,
  int32: T.INT32,
  uint32: T.UINT32,
  int64: T.INT64,
  uint64: T.UINT64,
  bool: T.BOOL,
  string: T.STRING,
};

const BY_CODE = new Map<number, TensorDtype>(
  Object.entries(ONNX_DTYPE).map(([dtype, code]) => [code, dtype as TensorDtype]),
);

/** The dtype of an ONNX element type code, or undefined for types Outpost does not carry (bfloat16, complex…). */
export function dtypeOfOnnx(code: number | null | undefined): TensorDtype | undefined {
  return code === null || code === undefined ? undefined : BY_CODE.get(code);
}
