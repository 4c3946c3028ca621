import { z } from 'zod';
import { PRECISIONS, SemverSchema } from './manifest.js';
import { tolerantEnum } from './messages/tolerance.js';

/**
 * Engines (docs/architecture.md "Engines"): a (runtime,
 * provider) pair. The order here is only the canonical listing; a firmware profile says in
 * which order a device tries them.
 */
export const ENGINE_NAMES = [
  'onnx:tensorrt',
  'onnx:cuda',
  'onnx:webgpu',
  'onnx:cpu',
  'onnx-web:wasm',
  'tfjs:node',
  'tfjs:wasm',
  'tfjs:cpu',
] as const;
export const EngineNameSchema = z.enum(ENGINE_NAMES);
export type EngineName = z.infer<typeof EngineNameSchema>;

/**
 * An engine as a device reports it: a name this build knows, or a newer one kept as a label
 * (shown, never acted on) and counted as tolerated.
 */
export const ReportedEngineSchema = tolerantEnum(ENGINE_NAMES, 'engine');

/** Which model formats an engine's runtime can load at all. */
export const ENGINE_RUNTIMES: Record<EngineName, 'onnx' | 'tfjs'> = {
  'onnx:tensorrt': 'onnx',
  'onnx:cuda': 'onnx',
  'onnx:webgpu': 'onnx',
  'onnx:cpu': 'onnx',
  'onnx-web:wasm': 'onnx',
  'tfjs:node': 'tfjs',
  'tfjs:wasm': 'tfjs',
  'tfjs:cpu': 'tfjs',
};

/** Where an output disagreed with the manifest's reference (the worst element). */
export const ReferenceMismatchSchema = z.object({
  output: z.string().max(256),
  /** Flat row-major index of the worst element, or -1 when dtype/shape already differ. */
  index: z.number().int().min(-1),
  expected: z.union([z.number(), z.string(), z.boolean(), z.null()]),
  received: z.union([z.number(), z.string(), z.boolean(), z.null()]),
  maxAbsDiff: z.number().nullable(),
  tolerance: z.object({ abs: z.number().nonnegative(), rel: z.number().nonnegative() }),
});
export type ReferenceMismatch = z.infer<typeof ReferenceMismatchSchema>;

/**
 * Why an engine was not admitted for a model: `unsupported` (its runtime cannot read the
 * model's format), `error` (the session did not open or the warm-up run failed: the real
 * error message), `mismatch` (outputs disagree with the reference).
 */
export const EngineRejectionSchema = z.object({
  engine: ReportedEngineSchema,
  /** The model variant tried, when a version carries several (fp32/fp16/int8). */
  precision: z.enum(PRECISIONS).optional(),
  stage: z.enum(['unsupported', 'load', 'warmup', 'reference']),
  reason: z.string().max(2048),
  mismatch: ReferenceMismatchSchema.optional(),
});
export type EngineRejection = z.infer<typeof EngineRejectionSchema>;

/**
 * How the admitted engine was warmed up: on the manifest's reference inputs, on sample inputs
 * given at install, on inputs made from the model's metadata (`label` says which sizes), or
 * not at all (`none`: no input set could run without real inputs; the opened session was
 * admitted and `reason` says why).
 */
export const WarmupRecordSchema = z.strictObject({
  source: z.enum(['reference', 'sample', 'metadata', 'none']),
  label: z.string().max(256).optional(),
  /** The dims of each warm-up input that ran. */
  dims: z.record(z.string(), z.array(z.number().int().nonnegative()).max(16)).optional(),
  reason: z.string().max(2048).optional(),
});
export type WarmupRecord = z.infer<typeof WarmupRecordSchema>;

/** What the agent does with a version none of whose engines can be warmed without real inputs. */
export const UNWARMED_POLICIES = ['admit', 'refuse'] as const;
export type UnwarmedPolicy = (typeof UNWARMED_POLICIES)[number];

/** One model as the device runs it: chosen engine (null when none was admitted) and rejections. */
export const ModelRuntimeReportSchema = z.object({
  name: z.string().max(64),
  version: SemverSchema,
  precision: z.enum(PRECISIONS),
  engine: ReportedEngineSchema.nullable(),
  rejected: z.array(EngineRejectionSchema).max(16),
  /** How the admitted engine was warmed up (absent when none was admitted). */
  warmup: WarmupRecordSchema.optional(),
  /** Last error when no engine was admitted. */
  error: z.string().max(2048).optional(),
});
export type ModelRuntimeReport = z.infer<typeof ModelRuntimeReportSchema>;

/** Result-cache counters since the agent started. */
export const CacheReportSchema = z.object({
  hits: z.number().int().nonnegative(),
  misses: z.number().int().nonnegative(),
  evictions: z.number().int().nonnegative(),
  entries: z.number().int().nonnegative(),
  /** Bytes of cached outputs. */
  bytes: z.number().int().nonnegative(),
  maxBytes: z.number().int().nonnegative(),
});
export type CacheReport = z.infer<typeof CacheReportSchema>;

/** The `inference` part of the reported state and of the agent's `GET /v1/status`. */
export const InferenceReportSchema = z.looseObject({
  profile: z.object({
    name: z.string().max(64),
    /** `config` when set by config/flag, else `detected`. */
    source: z.enum(['config', 'detected']),
    reason: z.string().max(1024),
  }),
  models: z.array(ModelRuntimeReportSchema).max(256),
  cache: CacheReportSchema,
});
export type InferenceReport = z.infer<typeof InferenceReportSchema>;
