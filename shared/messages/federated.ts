import { z } from 'zod';
import { SemverSchema, Sha256Schema } from '../manifest.js';
import { EpochMs } from './common.js';

/**
 * Federated learning on the wire: the task a device finds in its
 * desired state, the updates it sends in the `learning` lane, and its evaluation reports.
 * Weights are the update codec's bytes (fl-core's `encodeUpdate`). They travel as artifacts
 * over HTTP (the round's global model: `GET /v1/artifacts/{sha256}`; a device's update:
 * `PATCH /v1/federated/uploads/{task}/{round}`) to devices that report
 * `federated.artifacts`, and embedded (base64 in the task, chunk events) to the others
 * (docs/federated-learning.md "How weights travel"). In a secure round the update a device
 * uploads or sends as chunks is its masked input.
 */

/** Id of a federated task: 1-64 of `[a-z0-9-]`, starting with a letter or digit. */
export const FlTaskIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 of [a-z0-9-], starting with a letter or digit');

/** Round mode: `sync` (rounds close at a deadline) or `async` (FedBuff: aggregate every K updates). */
export const FL_MODES = ['sync', 'async'] as const;
export const FlModeSchema = z.enum(FL_MODES);

/** Update compression: int8 with a per-tensor scale, or top-k sparsification. */
export const FlCompressionSchema = z.object({
  kind: z.enum(['none', 'int8', 'topk']),
  /** Fraction of each tensor's entries `topk` keeps, (0, 1]; default 0.01. */
  topkFraction: z.number().gt(0).max(1).optional(),
  /**
   * Error feedback for the lossy kinds (default on): what compression drops from a round's
   * update stays on the device and is added to its next update of the same task.
   */
  errorFeedback: z.boolean().optional(),
});
export type FlCompression = z.infer<typeof FlCompressionSchema>;

/** A weight tensor's name and shape, in the model's weight order. */
export const FlTensorShapeSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z.array(z.number().int().positive()).max(8),
});

/** Most base64 characters of the global weights embedded in a task (the desired document rides MQTT). */
export const MAX_EMBEDDED_WEIGHTS_CHARS = 192 * 1024;

const B64 = z
  .string()
  .max(4096)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const ClientId = z.string().min(1).max(128);
/** A client's x25519 public keys (secure aggregation step 1). */
export const FlSecAggAdvertisementSchema = z.object({
  clientId: ClientId,
  encPublicKey: B64,
  maskPublicKey: B64,
});
/** One sealed share message (step 2). */
export const FlSecAggSharesSchema = z.object({ from: ClientId, to: ClientId, ciphertext: B64 });

/**
 * Secure aggregation of a sync round, driven by the hub through the task:
 * `advertise` (devices train, then send their public keys), `share` (the roster: devices send
 * sealed key shares), `mask` (each device's inbox and the clients that shared: devices send
 * their masked input as the update), `unmask` (the survivors: devices reveal the shares that
 * remove the masks). The hub learns only the sum.
 */
export const FlSecAggSchema = z.object({
  phase: z.enum(['advertise', 'share', 'mask', 'unmask']),
  /** fl-core's `SecAggParams`: round, threshold, length, scale, maxAbs, maxClients. */
  params: z.object({
    round: z.number().int().nonnegative(),
    threshold: z.number().int().min(2),
    length: z.number().int().positive(),
    scale: z.number().positive(),
    maxAbs: z.number().positive(),
    maxClients: z.number().int().min(2).max(255),
  }),
  /** The FedAvg weight of a client is examples / maxExamples. */
  maxExamples: z.number().int().positive(),
  roster: z.array(FlSecAggAdvertisementSchema).max(255).optional(),
  inbox: z.array(FlSecAggSharesSchema).max(255).optional(),
  submitted: z.array(ClientId).max(255).optional(),
  survivors: z.array(ClientId).max(255).optional(),
});
export type FlSecAgg = z.infer<typeof FlSecAggSchema>;

/** Event types of the secure-aggregation steps a device sends (lane `learning`). */
export const FL_SECAGG_ADVERTISE = 'fl.secagg.advertise';
export const FL_SECAGG_SHARES = 'fl.secagg.shares';
export const FL_SECAGG_UNMASK = 'fl.secagg.unmask';

/** Body of `fl.secagg.advertise`. */
export const FlSecAggAdvertiseEventSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  advertisement: FlSecAggAdvertisementSchema,
});
/** Body of `fl.secagg.shares`. */
export const FlSecAggSharesEventSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  shares: z.array(FlSecAggSharesSchema).max(255),
});
/** Body of `fl.secagg.unmask`. */
export const FlSecAggUnmaskEventSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  response: z.object({
    from: ClientId,
    shares: z
      .array(z.object({ of: ClientId, kind: z.enum(['b', 'sk']), x: z.number().int().positive(), y: B64 }))
      .max(510),
  }),
});

/** What a round's global-weights signature covers (canonical JSON, ed25519 by the hub's key). */
export const FL_WEIGHTS_KIND = 'fl-weights';

/**
 * The round's global model as an artifact: its SHA-256 and size (the artifact is
 * `GET /v1/artifacts/{sha256}`), and the hub's signature over
 * `{kind: 'fl-weights', task, round, sha256, size}` (`flWeightsStatement`), so a device
 * trusts the reference as it trusts a model manifest (`delivery.trustedKeys`).
 */
export const FlWeightsArtifactSchema = z.object({
  sha256: Sha256Schema,
  size: z.number().int().positive(),
  signature: z.object({
    alg: z.literal('ed25519'),
    keyId: z.string().regex(/^[0-9a-f]{16}$/),
    sig: z.string().min(1).max(256),
  }),
});
export type FlWeightsArtifact = z.infer<typeof FlWeightsArtifactSchema>;

/** The value a {@link FlWeightsArtifact}'s signature is over. */
export function flWeightsStatement(task: string, round: number, sha256: string, size: number) {
  return { kind: FL_WEIGHTS_KIND, task, round, sha256, size };
}

/**
 * The federated task of one round, in a device's desired state (`federated.task`): the
 * Keras topology, the weight shapes, the training parameters and the round's global weights
 * (the update codec's bytes, compression `none`) in one of two forms —
 * - `weightsArtifact`: a signed reference to the content-addressed artifact (any size), for
 *   devices that report `federated.artifacts` in their reported state;
 * - `weights` + `weightsDigest`: embedded, base64, at most {@link MAX_EMBEDDED_WEIGHTS_CHARS}
 *   (the previous release reads only this form).
 */
export const FlTaskSchema = z
  .object({
    id: FlTaskIdSchema,
    /** Round number, from 1. In async mode: the global model version the device trains from. */
    round: z.number().int().positive(),
    mode: FlModeSchema,
    /** The registered model the task improves (lineage of what it produces). */
    model: z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/), version: SemverSchema }),
    /** The Keras-style topology (`model.json`'s `modelTopology`) of a tfjs-layers model. */
    topology: z.record(z.string(), z.unknown()),
    /** Weight names and shapes, in order. */
    shapes: z.array(FlTensorShapeSchema).min(1).max(1024),
    /** Embedded form: the round's global weights, `encodeUpdate(weights, {compression: 'none'})`, base64. */
    weights: z
      .string()
      .max(MAX_EMBEDDED_WEIGHTS_CHARS)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
      .optional(),
    /** Embedded form: SHA-256 (hex) of the decoded `weights` bytes. */
    weightsDigest: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** Artifact form: the signed reference to the round's global weights. */
    weightsArtifact: FlWeightsArtifactSchema.optional(),
    /** Local SGD learning rate. */
    lr: z.number().positive().max(10),
    epochs: z.number().int().min(1).max(100),
    batchSize: z.number().int().min(1).max(100_000),
    /** FedProx proximal coefficient μ; absent or 0: plain local SGD. */
    proxMu: z.number().nonnegative().optional(),
    /** L2 bound the device clips its delta to before sending. */
    clipNorm: z.number().positive(),
    compression: FlCompressionSchema,
    /** Hub wall clock after which a sync round may close without this device, ms. */
    deadline: EpochMs,
    /** Also evaluate the global model on the device's `holdout` examples and report `fl.eval`. */
    evaluate: z.boolean(),
    /** Seed of the local shuffle (the device mixes in its id and the round). */
    seed: z.number().int().nonnegative(),
    /** Secure aggregation of this round, when the task asks for it. */
    secagg: FlSecAggSchema.optional(),
    /**
     * Fine-tuning: the tensors the update carries (the trainable layers', in model order); the
     * device sends its delta of these only (clipped, compressed, masked as a whole). Absent:
     * every tensor.
     */
    updateTensors: z.array(z.string().min(1).max(256)).min(1).max(1024).optional(),
  })
  .superRefine((task, ctx) => {
    const embedded = [task.weights, task.weightsDigest].filter((v) => v !== undefined).length;
    const artifact = task.weightsArtifact !== undefined;
    if (!(artifact ? embedded === 0 : embedded === 2)) {
      ctx.addIssue({
        code: 'custom',
        path: ['weightsArtifact'],
        message: 'give either weights and weightsDigest (embedded) or weightsArtifact, not both',
      });
    }
  });
export type FlTask = z.infer<typeof FlTaskSchema>;

/** The `federated` section of a desired document. */
export const FederatedSectionSchema = z.object({ task: FlTaskSchema });
export type FederatedSection = z.infer<typeof FederatedSectionSchema>;

/** Event type of one update chunk (lane `learning`). */
export const FL_UPDATE_CHUNK = 'fl.update.chunk';
/** Event type of a federated evaluation report (lane `learning`). */
export const FL_EVAL = 'fl.eval';
/** Event type of an update uploaded over HTTP (lane `learning`): its reference and figures. */
export const FL_UPDATE_UPLOAD = 'fl.update.upload';

/** Most raw bytes of one update chunk: base64 of it stays far below the MQTT packet limit. */
export const FL_CHUNK_BYTES = 48 * 1024;

/**
 * Body of an `fl.update.chunk` event: piece `index` of `total` of one device's update for
 * `(task, round)`. `digest` is the SHA-256 (hex) of the whole reassembled update; `examples`
 * (the FedAvg weight) and the training figures repeat on every chunk so any one carries them.
 */
export const FlUpdateChunkSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  index: z.number().int().nonnegative(),
  total: z.number().int().positive().max(4096),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** This chunk's bytes, base64. */
  bytes: z
    .string()
    .max(Math.ceil(FL_CHUNK_BYTES / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
  examples: z.number().int().positive(),
  /** L2 norm of the delta before clipping, and whether it was clipped. */
  norm: z.number().nonnegative(),
  clipped: z.boolean(),
  /** Mean training loss and accuracy of the last local epoch. */
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
});
export type FlUpdateChunk = z.infer<typeof FlUpdateChunkSchema>;

/** Body of an `fl.eval` event: the round's global model on the device's holdout examples. */
export const FlEvalSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  examples: z.number().int().positive(),
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
});
export type FlEval = z.infer<typeof FlEvalSchema>;

/**
 * Bytes of one part of an uploaded update: every `PATCH /v1/federated/uploads/{task}/{round}`
 * carries exactly one part (the last may be shorter) at an offset that is a multiple of it.
 */
export const FL_UPLOAD_PART_BYTES = 1024 * 1024;

/** Path of the upload of a device's update for `(task, round)` (the device is the caller). */
export function flUploadPath(task: string, round: number): string {
  return `/v1/federated/uploads/${task}/${round}`;
}

/**
 * Body of an `fl.update.upload` event: the device's update for `(task, round)` is (or is being)
 * uploaded to {@link flUploadPath}; `sha256` and `size` are those of the whole update. The
 * hub counts the update once it holds this event and every byte of the upload, hashing to
 * `sha256`. The training figures are those of `fl.update.chunk`. In a secure round the upload
 * is the device's masked input (4 bytes per word of `secagg.params.length`).
 */
export const FlUpdateUploadSchema = z.object({
  task: FlTaskIdSchema,
  round: z.number().int().positive(),
  sha256: Sha256Schema,
  size: z.number().int().positive(),
  examples: z.number().int().positive(),
  norm: z.number().nonnegative(),
  clipped: z.boolean(),
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
});
export type FlUpdateUpload = z.infer<typeof FlUpdateUploadSchema>;
