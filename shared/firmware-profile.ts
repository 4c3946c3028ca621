import { z } from 'zod';
import { EngineNameSchema } from './inference.js';
import { PRECISIONS } from './manifest.js';

/**
 * Engine knobs a profile may set per engine. Each one is a real
 * onnxruntime session setting; `approximateGelu` trades accuracy for speed and is therefore
 * exactly what the admission check against a manifest's reference exists to catch.
 */
export const EngineOptionsSchema = z.strictObject({
  /** onnxruntime graph optimisation level; default `all`. */
  graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  /** onnxruntime `optimization.enable_gelu_approximation`: Gelu becomes the tanh approximation. */
  approximateGelu: z.boolean().optional(),
});
export type EngineOptions = z.infer<typeof EngineOptionsSchema>;

/** What a host must be for a profile to match it; absent fields match anything. */
export const ProfileMatchSchema = z.strictObject({
  /** `node` (the agent) or `browser` (an in-browser runtime). */
  runtime: z.enum(['node', 'browser']).default('node'),
  /** Node's `process.arch` values, e.g. `arm64`, `x64`. */
  arch: z.array(z.string().min(1).max(32)).min(1).optional(),
  /** Case-insensitive substrings of `/proc/device-tree/model`; one must occur. */
  deviceTreeModel: z.array(z.string().min(1).max(128)).min(1).optional(),
  /** Whether a CUDA runtime must be present (true) or absent (false). */
  cuda: z.boolean().optional(),
});
export type ProfileMatch = z.infer<typeof ProfileMatchSchema>;

/**
 * A firmware profile (`firmware-profiles/*.json`, docs/architecture.md "Roles"): one device class, the
 * engines it tries in order, its threads, precision preference and quotas.
 */
export const FirmwareProfileSchema = z.strictObject({
  schema: z.literal('outpost.firmware-profile/v1'),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 of [a-z0-9-]'),
  description: z.string().max(512),
  match: ProfileMatchSchema,
  /** Among matching profiles the highest priority wins (a specific board over a generic arch). */
  priority: z.number().int().min(-1000).max(1000),
  /** Engines tried one at a time, in this order (onnxruntime-node does not fall back by itself). */
  engines: z
    .array(EngineNameSchema)
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'engines must not repeat'),
  engineOptions: z.partialRecord(EngineNameSchema, EngineOptionsSchema).default({}),
  threads: z.strictObject({
    /** Threads inside one operator (onnxruntime intra-op). */
    intraOp: z.number().int().min(1).max(256),
    /** Threads across operators (onnxruntime inter-op). */
    interOp: z.number().int().min(1).max(256),
  }),
  /** Model variants by preference, best first (a version may carry fp32/fp16/int8 variants). */
  precision: z
    .array(z.enum(PRECISIONS))
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'precision must not repeat'),
  cache: z.strictObject({
    /** Result-cache byte quota; LRU eviction beyond it. */
    maxBytes: z.number().int().nonnegative(),
    /** Result time to live, seconds. */
    ttlS: z.number().int().positive(),
  }),
  storage: z.strictObject({
    /** Most bytes of installed model artifacts. */
    modelsMaxBytes: z.number().int().positive(),
  }),
});
export type FirmwareProfile = z.infer<typeof FirmwareProfileSchema>;
export type FirmwareProfileInput = z.input<typeof FirmwareProfileSchema>;

/** What the agent learns about its host to pick a profile (gathered by the agent, matched purely). */
export const HostFactsSchema = z.strictObject({
  runtime: z.enum(['node', 'browser']),
  arch: z.string().max(32),
  platform: z.string().max(32),
  /** `/proc/device-tree/model` without its trailing NUL, or null where there is none. */
  deviceTreeModel: z.string().max(256).nullable(),
  /**
   * CUDA facts: a libcudart on the loader paths (reported, not evidence of a device), `/dev/nvidia*`
   * nodes, and a GPU listed by `nvidia-smi -L`. Only the last two count as a CUDA device.
   */
  cuda: z.strictObject({ libcudart: z.boolean(), devNvidia: z.boolean(), nvidiaSmi: z.boolean() }),
});
export type HostFacts = z.infer<typeof HostFactsSchema>;
