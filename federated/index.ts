/**
 * Federated learning: local training, update codecs, aggregation strategies,
 * privacy and secure aggregation. Shared by the agent, the hub, the CLI and the benchmarks;
 * imports neither agent nor hub.
 */

export { chunk, reassemble, sha256Hex } from './codec/chunks.js';
export { clipL2 } from './codec/clip.js';
export { compressionOf, decodeUpdate } from './codec/decode.js';
export { encodeUpdate } from './codec/encode.js';
export { compressWithFeedback, type FeedbackResult } from './codec/error-feedback.js';
export { decodeServerState, encodeServerState } from './codec/server-state.js';
export {
  type ExportOptions,
  exportOnnx,
  hwioToOihw,
  oihwToHwio,
  TOPOLOGY_METADATA,
  toTfjsArtifacts,
} from './export/onnx.js';
export { importOnnx } from './export/onnx-import.js';
export {
  exportServing,
  PARITY_TOLERANCE,
  type ParityReport,
  type ServingExport,
  type ServingOptions,
} from './export/serving.js';
export { DpFedAvgParamsSchema, dpFedAvg } from './privacy/dp-fedavg.js';
export { addGaussianNoise, cryptoNormal, type NormalSource, seededNormal } from './privacy/noise.js';
export {
  DEFAULT_ORDERS,
  epsilonFromRdp,
  type PrivacyStep,
  privacySpent,
  RdpAccountant,
  rdpSubsampledGaussian,
} from './privacy/rdp.js';
export { gaussianFrom, mulberry32, shuffleInPlace } from './prng.js';
export { checkRoster, SecAggClient, type SecAggClientState } from './secagg/client.js';
export {
  type Advertisement,
  type EncryptedShares,
  parseSecAggParams,
  type Roster,
  type SecAggParams,
  SecAggParamsSchema,
  type UnmaskResponse,
} from './secagg/messages.js';
export { decodeFixed, encodeFixed } from './secagg/ring.js';
export {
  checkAdvertisement,
  checkShares,
  checkUnmasking,
  type SecAggResult,
  SecAggServer,
} from './secagg/server.js';
export { combine as shamirCombine, type Share, split as shamirSplit } from './secagg/shamir.js';
export { globalFromSecureSum, secureInput, secureInputLength } from './secagg/weighted.js';
export { loadMnistSplit, type MnistSplit, subset } from './simulate/data.js';
export { type Partition, PartitionSchema, partitionRows } from './simulate/partition.js';
export {
  type RoundReport,
  type SimulateOptions,
  SimulateOptionsSchema,
  type SimulationReport,
  simulate,
} from './simulate/run.js';
export { AdaptiveParamsSchema } from './strategies/adaptive.js';
export { fedAdam } from './strategies/fedadam.js';
export { FedAvgParamsSchema, fedAvg } from './strategies/fedavg.js';
export { FedMedianParamsSchema, fedMedian } from './strategies/fedmedian.js';
export { FedProxParamsSchema, fedProx } from './strategies/fedprox.js';
export { fedYogi } from './strategies/fedyogi.js';
export { KrumParamsSchema, krum } from './strategies/krum.js';
export { createStrategy, STRATEGIES, type StrategyName, StrategyNameSchema } from './strategies/registry.js';
export { stalenessWeight } from './strategies/staleness.js';
export { TrimmedMeanParamsSchema, trimmedMean } from './strategies/trimmed-mean.js';
export { buildMnistCnn, type CnnOptions } from './trainer/cnn.js';
export {
  type Layer,
  type LayerStack,
  layerWeights,
  parseLayerStack,
  SUPPORTED_LAYERS,
  stackWeightShapes,
} from './trainer/layers.js';
export { loadTf, type TrainBackend } from './trainer/tf.js';
export {
  type Activation,
  buildMnistMlp,
  type DenseLayer,
  denseWeightShapes,
  type MlpOptions,
  parseDenseStack,
} from './trainer/topology.js';
export { evaluate, predictLogits, trainLocal } from './trainer/train.js';
export {
  applyTrainableLayers,
  mergeTensors,
  pickTensors,
  type TrainableLayers,
  trainableTensors,
} from './trainer/trainable.js';
export type * from './types.js';
export { validateUpdate } from './validate.js';
export {
  add,
  addScaled,
  cloneWeights,
  flatCount,
  flatten,
  l2Norm,
  sameShapes,
  scaleInPlace,
  shapesOf,
  sizeOf,
  sub,
  type TensorShape,
  unflatten,
  zerosLike,
} from './weights.js';
