import onnxProto from 'onnx-proto';
import { OutpostError } from '../../shared/index.js';

/**
 * ONNX's protobuf messages (the `onnx-proto` package: protobufjs code generated from
 * onnx.proto). This is the one place that imports it; the builder, the signature reader
 * and the quantizer go through these.
 */
export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type IGraphProto = onnxProto.onnx.IGraphProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** Serialises a model to its `.onnx` bytes. */
export function encodeOnnxModel(model: IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Parses `.onnx` bytes; throws `INFER_MODEL_INVALID` when they are not an ONNX model. */
export function decodeOnnxModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OutpostError('INFER_MODEL_INVALID', `not an ONNX model: ${(err as Error).message}`);
  }
  if (!model.graph) throw new OutpostError('INFER_MODEL_INVALID', 'not an ONNX model: it has no graph');
  return model;
}
