/**
 * The federated-learning API, stable for the agent's task runner and the hub's
 * round runner. Weights and deltas are plain ordered lists of float32 tensors so they cross
 * process boundaries (update codec, SQLite, MQTT chunks) without TF.js.
 */

/** One named float32 tensor of a model, row-major. */
export interface WeightTensor {
  /** The weight's name in the model (e.g. `dense_1/kernel`). */
  name: string;
  /** Dimensions; `values.length` is their product. */
  shape: number[];
  values: Float32Array;
}

/**
 * A model's weights (or a delta between two of them), ordered like the model's weights.
 * Two `ModelWeights` are compatible when they have the same names, shapes and order.
 */
export type ModelWeights = WeightTensor[];

/**
 * A TF.js layers model as the trainer takes it: the Keras-style topology JSON (what
 * `model.toJSON(undefined, false)` returns, i.e. `model.json`'s `modelTopology`) and its
 * weights in the model's weight order.
 */
export interface LayersModel {
  modelTopology: Record<string, unknown>;
  weights: ModelWeights;
}

/**
 * Labelled examples, row-major: `x` holds `count` rows of `features` floats, `y` one class
 * index per row.
 */
export interface Samples {
  x: Float32Array;
  y: Uint8Array | Int32Array;
  count: number;
  features: number;
}

/** Options of `trainLocal`. */
export interface TrainLocalOptions {
  model: LayersModel;
  samples: Samples;
  /** SGD learning rate. */
  lr: number;
  /** Passes over the samples (≥ 1). */
  epochs: number;
  /** Examples per step; `Infinity` or ≥ count means full batch (FedSGD). */
  batchSize: number;
  /**
   * FedProx proximal coefficient μ (Li et al. 2020): the loss gets `μ/2·‖w − w_global‖²`,
   * with `w_global` the weights the round started from. 0 or absent: plain FedAvg training.
   */
  proxMu?: number;
  /** Seed of the shuffle (seeded PRNG): the same inputs and seed give the same weights. */
  seed: number;
  /** TF.js backend (default `wasm` where it loads, else `cpu`). */
  backend?: 'wasm' | 'cpu';
}

/** What `trainLocal` returns. */
export interface TrainResult {
  /** The locally trained weights (same order and shapes as the input model's). */
  weights: ModelWeights;
  /** Mean cross-entropy of the last epoch (over its batches, weighted by batch size). */
  loss: number;
  /** Top-1 training accuracy of the last epoch, 0-1. */
  accuracy: number;
  /** Number of examples trained on (the FedAvg weight). */
  examples: number;
  /** SGD steps taken. */
  steps: number;
  /** TF.js backend that ran the training. */
  backend: 'wasm' | 'cpu';
  /** Why `wasm` was not used when it was asked for (the caller should log a warning). */
  backendFallback?: string;
}

/** What `evaluate` returns. */
export interface EvalResult {
  /** Mean cross-entropy. */
  loss: number;
  /** Top-1 accuracy, 0-1. */
  accuracy: number;
  count: number;
}

/** Update compression. */
export type Compression = 'none' | 'int8' | 'topk';

/** Options of `encodeUpdate`. */
export interface EncodeOptions {
  /** Default `none`. */
  compression?: Compression;
  /** Fraction of each tensor's entries kept by `topk` (largest |value|), (0, 1]; default 0.01. */
  topkFraction?: number;
}

/** What `clipL2` returns. */
export interface ClipResult {
  delta: ModelWeights;
  /** L2 norm of the input delta (before clipping). */
  norm: number;
  /** True when the delta was scaled down to the bound. */
  clipped: boolean;
}

/** One piece of a chunked update; `digest` (SHA-256 hex of the whole) lets the receiver verify it. */
export interface UpdateChunk {
  /** 0-based position. */
  index: number;
  total: number;
  /** SHA-256 hex of the whole reassembled byte string. */
  digest: string;
  bytes: Uint8Array;
}

/** Why an update was refused before any math. */
export type RejectReason = 'shape' | 'non-finite' | 'norm' | 'examples' | 'duplicate' | 'staleness';

/** Result of `validateUpdate`. */
export type ValidationResult = { ok: true } | { ok: false; reason: RejectReason; detail: string };

/** Options of `validateUpdate`. */
export interface ValidateOptions {
  /** Largest L2 norm accepted (default Infinity: only shape and finiteness are checked). */
  maxNorm?: number;
}

/** One client's contribution to a round. */
export interface ClientUpdate {
  clientId: string;
  /** Locally trained weights minus the round's global weights. */
  delta: ModelWeights;
  /** Examples it trained on (FedAvg weight); must be > 0. */
  examples: number;
  /**
   * Rounds (server model versions) between the model the client trained from and the current
   * one; FedBuff-style asynchronous rounds weight by `1/sqrt(1+staleness)` (default 0).
   */
  staleness?: number;
}

/** What an aggregation produces at `finish()`. */
export interface AggregateResult {
  /** The new global weights. */
  weights: ModelWeights;
  /** Client ids whose updates went into `weights`. */
  accepted: string[];
  /** Updates refused (validation) or discarded by a robust rule (`krum`, trimming), with why. */
  rejected: Array<{ clientId: string; reason: RejectReason | 'robust-rule'; detail: string }>;
  /** Server-optimizer state to persist and pass to the next `begin` (FedAdam/FedYogi), else null. */
  state: ServerState | null;
}

/** Serialisable server-optimizer state (FedAdam/FedYogi's first and second moments). */
export interface ServerState {
  kind: 'adaptive';
  /** Number of server steps taken. */
  step: number;
  m: ModelWeights;
  v: ModelWeights;
}

/** A round in progress: add updates one by one, then finish once. */
export interface Aggregation {
  /** Validates and folds in one update; a refusal is recorded and returned, never thrown. */
  add(update: ClientUpdate): ValidationResult;
  /** The new global weights and the round's accounting. Throws when nothing was accepted. */
  finish(): AggregateResult;
}

/** Options of `Strategy.begin`. */
export interface BeginOptions {
  /** Round number (for logs and PRG labels). */
  round: number;
  /** The state returned by the previous round's `finish()` (adaptive strategies). */
  state?: ServerState | null;
  /** Updates with a larger L2 norm are refused (default Infinity). */
  maxNorm?: number;
}

/** A pure aggregation strategy, one per file, registered by name. */
export interface Strategy {
  readonly name: string;
  /** Parameters clients must train with (FedProx: `{ proxMu }`); `{}` otherwise. */
  clientConfig(): { proxMu?: number };
  begin(global: ModelWeights, options: BeginOptions): Aggregation;
}

/** `(ε, δ)` after some rounds of the subsampled Gaussian mechanism. */
export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** The Rényi order the bound was tightest at. */
  order: number;
}

/** Function signatures of the library, as exported from `federated/index.ts`. */
export type TrainLocalFn = (options: TrainLocalOptions) => Promise<TrainResult>;
export type EvaluateFn = (
  model: LayersModel,
  samples: Samples,
  backend?: 'wasm' | 'cpu',
) => Promise<EvalResult>;
export type ClipL2Fn = (delta: ModelWeights, bound: number) => ClipResult;
export type EncodeUpdateFn = (delta: ModelWeights, options?: EncodeOptions) => Uint8Array;
export type DecodeUpdateFn = (
  bytes: Uint8Array,
  expected: ModelWeights | Array<{ name: string; shape: number[] }>,
) => ModelWeights;
export type CompressWithFeedbackFn = (
  delta: ModelWeights,
  residual: ModelWeights | undefined,
  options: EncodeOptions & { clipNorm: number },
) => { encoded: Uint8Array; sent: ModelWeights; residual: ModelWeights; clip: Omit<ClipResult, 'delta'> };
export type ChunkFn = (bytes: Uint8Array, maxChunk: number) => UpdateChunk[];
