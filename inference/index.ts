/**
 * Outpost's inference core, shared by the agent and the hub ("the same engine
 * code"): tensors and their codecs, signatures, engines and their registry, admission
 * against a manifest's reference, ONNX model tooling and firmware-profile detection.
 * Imports shared only.
 */
export type { Admission, AdmissionRequest } from './admission/admit.js';
export { admitModel } from './admission/admit.js';
export { compareWithReference, describeMismatch, type Tolerance } from './admission/compare.js';
export {
  type MetadataWarmup,
  metadataWarmups,
  WARMUP_DIM_LADDER,
  WARMUP_SAMPLE_RATE,
  zeroInputs,
} from './admission/warmup-inputs.js';
export { digitPageImage } from './digits/digit-images.js';
export { DIGIT_PIXELS, type DigitSet, loadDigits } from './digits/mnist.js';
export { type DigitClassifier, type TrainOptions, trainDigitClassifier } from './digits/train.js';
export { ENGINES, engineNamed } from './engines/registry.js';
export type { Engine, EngineSettings, LoadedModel } from './engines/types.js';
export {
  artifactSource,
  isTfjsBundle,
  packTfjsBundle,
  TFJS_BUNDLE_MAGIC,
  unpackTfjsBundle,
} from './model/bundle.js';
export {
  digestModelSource,
  type ModelFormat,
  type ModelSource,
  parseTfjsModelJson,
  readModelSource,
  shardPaths,
  type TfjsModelJson,
  type TfjsWeightsGroup,
} from './model/source.js';
export { type AttributeValue, OnnxModelBuilder } from './onnx/builder.js';
export { dtypeOfOnnx, ONNX_DTYPE } from './onnx/dtypes.js';
export {
  decodeOnnxModel,
  encodeOnnxModel,
  type IModelProto,
  type ITensorProto,
  type ModelProto,
  onnx,
} from './onnx/proto.js';
export { readOnnxSignature } from './onnx/signature.js';
export { hostTensorOf, tensorProtoOf } from './onnx/tensor-proto.js';
export { detectProfile, hasCuda, matchReason } from './profiles/detect.js';
export { type HostProbeOptions, probeHostFacts } from './profiles/host-facts.js';
export { defaultProfilesDir, loadProfiles } from './profiles/load.js';
export { calibrate, type Range, runAll } from './quantize/calibrate.js';
export { evaluateVariant, type VariantEvaluation } from './quantize/evaluate.js';
export { convertFp16, type Fp16Result } from './quantize/fp16.js';
export { generatedInputSet, inputSetFromJson } from './quantize/input-set.js';
export { type Int8Options, type Int8Result, quantizeInt8 } from './quantize/int8.js';
export { type ModelInt8Options, type ModelInt8Result, quantizeModelInt8 } from './quantize/int8-model.js';
export { TARGET_OPSET, upgradeOpset } from './quantize/opset-upgrade.js';
export { QUANTIZERS, type Quantization, QuantizationSchema, type Quantizer } from './quantize/registry.js';
export {
  assertInputs,
  compileInputCheck,
  type InputCheck,
  type InputProblem,
  inputProblems,
  inputsFit,
  type ModelSignature,
  throwInputProblems,
} from './signature/validate.js';
export { decodeTensors, encodeTensors, TENSOR_MEDIA_TYPE } from './tensor/binary-codec.js';
export { digestTensors } from './tensor/digest.js';
export { fromHalfArray, fromHalfBits, toHalfArray, toHalfBits } from './tensor/float16.js';
export {
  allocate,
  bytesOf,
  DTYPE_BYTES,
  elementCount,
  type HostTensor,
  type TensorData,
  type TensorDtype,
  type TensorMap,
  viewOf,
} from './tensor/host-tensor.js';
export { tensorFromJson, tensorToJson } from './tensor/json-codec.js';
