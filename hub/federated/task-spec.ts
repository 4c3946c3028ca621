import { z } from 'zod';
import { StrategyNameSchema } from '../../federated/index.js';
import { SemverSchema } from '../../shared/index.js';
import {
  FlCompressionSchema,
  FlModeSchema,
  FlTaskIdSchema,
  FlTensorShapeSchema,
} from '../../shared/messages/federated.js';

/**
 * What `POST /v1/federated/tasks` takes: the model and its initial
 * weights, the strategy, client selection, local training and round parameters. Defaults
 * are stated per field; an unknown key is an error.
 */
export const FlTaskSpecSchema = z.strictObject({
  /** Task id; a random one when absent. */
  id: FlTaskIdSchema.optional(),
  /** The registered model the task improves (lineage of the versions it produces). */
  model: z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/), version: SemverSchema }),
  /**
   * The starting tfjs-layers model: Keras topology, weight shapes and weights (codec bytes,
   * base64), all three or none — none reads `model.name@model.version` from the registry.
   */
  topology: z.record(z.string(), z.unknown()).optional(),
  shapes: z.array(FlTensorShapeSchema).min(1).max(1024).optional(),
  weights: z.string().min(1).optional(),
  /**
   * Fine-tuning: the layers that train, by name or `{last: N}` (the last N layers that have
   * weights). Every other layer is frozen (`trainable: false` in the topology the devices
   * get), and updates, aggregation and secure aggregation carry only the trained layers'
   * tensors; the hub merges them into the full model. Absent: the topology's own
   * `trainable` flags (layers without `trainable: false` train).
   */
  trainableLayers: z
    .union([
      z.array(z.string().min(1).max(256)).min(1).max(1024),
      z.strictObject({ last: z.number().int().min(1).max(1024) }),
    ])
    .optional(),
  strategy: StrategyNameSchema.default('fedavg'),
  /** The strategy's parameters (validated by its schema; FedProx: `{mu}`, …). */
  strategyParams: z.record(z.string(), z.unknown()).default({}),
  mode: FlModeSchema.default('sync'),
  /** Rounds to run (sync) or global model versions to produce (async). Default 3. */
  rounds: z.number().int().min(1).max(10_000).default(3),
  /** Clients per round: a fraction of the eligible online devices, or a count (count wins). */
  fraction: z.number().gt(0).max(1).default(1),
  count: z.number().int().positive().optional(),
  /** Fewest accepted updates a round aggregates; default 1. */
  minClients: z.number().int().positive().default(1),
  /** Devices eligible: every label here must match the device's labels. */
  selector: z.record(z.string(), z.string()).default({}),
  /** Seconds after opening that a sync round closes with what it has (≥ minClients). Default 60. */
  deadlineS: z.number().positive().max(86_400).default(60),
  /**
   * Seconds after the deadline that a sync round still short of `minClients` is declared
   * failed (the next round starts from the same weights). Default 300.
   */
  graceS: z.number().nonnegative().max(86_400).default(300),
  /** Async (FedBuff): aggregate every K decided updates; default 2. */
  bufferK: z.number().int().positive().default(2),
  /** Async: updates older than this many versions are refused (`staleness`); default 5. */
  maxStaleness: z.number().int().nonnegative().default(5),
  lr: z.number().positive().max(10).default(0.05),
  epochs: z.number().int().min(1).max(100).default(1),
  batchSize: z.number().int().min(1).max(100_000).default(10),
  /** Clients clip their delta to this L2 norm; default 10. */
  clipNorm: z.number().positive().default(10),
  /**
   * The hub refuses updates above `clipNorm × normSlack` (a scaled/poisoned update); default
   * 1.01 (float rounding of an honest clipped delta).
   */
  normSlack: z.number().min(1).default(1.01),
  compression: FlCompressionSchema.default({ kind: 'none' }),
  /** Central DP: Gaussian noise σ = noiseMultiplier × clipNorm / accepted, added at the hub. */
  dp: z
    .strictObject({ noiseMultiplier: z.number().positive(), delta: z.number().gt(0).lt(1).default(1e-5) })
    .optional(),
  /** Devices evaluate the global model on their holdout examples. Default true. */
  evaluate: z.boolean().default(true),
  /** Hub-side evaluation on held-out MNIST digits (`perClass` per digit from `offset`). */
  hubEval: z
    .strictObject({
      perClass: z.number().int().min(1).max(163),
      /** First sample per class; default 700 (the simulation's test split starts there). */
      offset: z.number().int().min(0).default(700),
    })
    .refine(
      (e) => e.perClass + e.offset <= 863,
      'perClass + offset must be ≤ 863 (the rarest digit has 863 samples)',
    )
    .optional(),
  /**
   * Closed loop (needs `hubEval`): register a version (tfjs-layers bundle,
   * lineage parent + round) whenever a round beats the best hub accuracy so far, and when
   * the task ends start a rollout of the best one with these rollout-request fields (model,
   * version and the task's selector are filled in; absent: no rollout).
   */
  closedLoop: z
    .strictObject({
      register: z.boolean().default(true),
      rollout: z.record(z.string(), z.unknown()).optional(),
      /**
       * What a version is registered as. `onnx` (default): fp32 = the ONNX export (it carries
       * the topology, so the version can start the next task), int8 = that export through the
       * project's quantizer. `tfjs-layers`: fp32 = the TF.js layers bundle, int8 = the ONNX
       * int8. Each variant is registered only after its parity check on the hub-eval digits.
       */
      format: z.enum(['onnx', 'tfjs-layers']).default('onnx'),
      /**
       * Parity tolerances: the largest |Δ probability| between a variant on onnxruntime and
       * the TF.js model over the hub-eval digits (fp32 default 1e-4: a version whose fp32
       * export is further off is not registered; int8 default 0.1: further off, the version
       * has no int8 variant).
       */
      parity: z
        .strictObject({
          fp32: z.number().positive().max(1).default(1e-4),
          int8: z.number().positive().max(1).default(0.1),
        })
        .optional(),
    })
    .optional(),
  /**
   * Secure aggregation (sync, fedavg/fedprox): the hub learns only the sum of the clients'
   * weighted deltas. `threshold` t: the fewest survivors that can finish (≥ 2);
   * `maxExamples`: a client's weight is examples / maxExamples (default 10 000); fixed-point
   * `scale` (default 2^16). Clients' deltas are bounded by `clipNorm`.
   */
  secagg: z
    .strictObject({
      threshold: z.number().int().min(2).max(255),
      maxExamples: z.number().int().positive().default(10_000),
      scale: z.number().positive().default(65_536),
    })
    .optional(),
  seed: z.number().int().nonnegative().default(1),
});
/** A task spec with its starting model resolved (what is stored and run). */
export type FlTaskSpec = z.output<typeof FlTaskSpecSchema> & {
  topology: Record<string, unknown>;
  shapes: Array<{ name: string; shape: number[] }>;
  weights: string;
};
export type FlTaskSpecInput = z.input<typeof FlTaskSpecSchema>;
