import { z } from 'zod';

/** Semantic version, 2.0.0 grammar (pre-release and build metadata allowed). */
export const SemverSchema = z
  .string()
  .regex(
    /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/,
    'must be a semantic version such as 1.2.3',
  );

export const MODEL_FORMATS = ['onnx', 'tfjs-graph', 'tfjs-layers'] as const;
export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export const TENSOR_DTYPES = [
  'float32',
  'float16',
  'float64',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
  'string',
] as const;

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** A tensor's signature: dims are sizes, or names / -1 for dynamic axes. */
export const TensorSpecSchema = z.strictObject({
  name: z.string().min(1).max(256),
  dtype: z.enum(TENSOR_DTYPES),
  shape: z.array(z.union([z.number().int().min(-1), z.string().max(64)])).max(16),
});
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

/** A tensor's value in JSON: row-major `data`, numbers (bigint-sized ints as strings) or booleans. */
export const TensorValueSchema = z.strictObject({
  dtype: z.enum(TENSOR_DTYPES),
  dims: z.array(z.number().int().nonnegative()).max(16),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])),
});
export type TensorValue = z.infer<typeof TensorValueSchema>;

/** A reference run an engine must reproduce before it is admitted (docs/architecture.md "Engines"). */
export const ReferenceSchema = z.strictObject({
  inputs: z.record(z.string(), TensorValueSchema),
  outputs: z.record(z.string(), TensorValueSchema),
  /** |a − b| ≤ abs + rel·|b| for every element. */
  tolerance: z.strictObject({ abs: z.number().nonnegative(), rel: z.number().nonnegative() }),
});

export const LineageSchema = z.strictObject({
  parent: SemverSchema.optional(),
  round: z.number().int().nonnegative().optional(),
  source: z.string().max(512).optional(),
});

/** One model version's description: what the hub signs and agents verify (docs/architecture.md "Model artifacts"). */
export const ManifestSchema = z.strictObject({
  schema: z.literal('outpost.manifest/v1'),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 of [a-z0-9._-]'),
  version: SemverSchema,
  format: z.enum(MODEL_FORMATS),
  precision: z.enum(PRECISIONS),
  sha256: Sha256Schema,
  /** Artifact size, bytes. */
  size: z.number().int().positive(),
  inputs: z.array(TensorSpecSchema).min(1),
  outputs: z.array(TensorSpecSchema).min(1),
  reference: ReferenceSchema.optional(),
  /**
   * Sample inputs (no expected outputs) the agent warms engines up on when there is no
   * reference: given at install with `--sample FILE`.
   */
  samples: z.record(z.string(), TensorValueSchema).optional(),
  lineage: LineageSchema.optional(),
  /** Hub wall clock at registration, ms. */
  createdAt: z.number().int().nonnegative(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** A manifest with the hub's ed25519 signature over its canonical JSON. */
export const SignedManifestSchema = z.strictObject({
  manifest: ManifestSchema,
  signature: z.strictObject({
    alg: z.literal('ed25519'),
    /** {@link keyIdOf} the signing public key. */
    keyId: z.string().regex(/^[0-9a-f]{16}$/),
    /** Base64 signature. */
    sig: z.string().min(1).max(256),
  }),
});
export type SignedManifest = z.infer<typeof SignedManifestSchema>;
