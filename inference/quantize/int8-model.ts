import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import type { LoadedModel } from '../engines/types.js';
import { decodeOnnxModel, encodeOnnxModel } from '../onnx/proto.js';
import type { TensorMap } from '../tensor/host-tensor.js';
import { type CalibrationMethod, calibrate, runAll } from './calibrate.js';
import { timeInterleaved } from './evaluate.js';
import { foldBatchNorms, hoistConstants } from './fold-batchnorm.js';
import { type Int8Mode, rewriteInt8 } from './int8-graph.js';
import { upgradeOpset } from './opset-upgrade.js';

/** Options of {@link quantizeModelInt8}. */
export interface ModelInt8Options {
  /** Real inputs: calibrate activation ranges, confirm an opset upgrade, time the candidates. */
  inputs: TensorMap[];
  /** `auto` (default) builds static and dynamic and keeps the faster on `onnx:cpu`. */
  mode?: Int8Mode | 'auto';
  /** One weight scale per output channel (default true) or one per tensor. */
  perChannel?: boolean;
  /** Weights with fewer elements stay float32 (default 16). */
  minElements?: number;
  /** How activation ranges are calibrated (default `percentile`; see `calibrate`). */
  calibration?: CalibrationMethod;
  /**
   * The share of values `percentile` calibration keeps in range, % (default 99.99: on the
   * OCR models it gave the smallest differences of 99.9, 99.99, 99.999 and min/max).
   */
  percentile?: number;
  /**
   * The first and the last weighted layer keep float32 activations (onnxruntime's advice for
   * accuracy: the layer reading the input and a classifier's output layer are the most
   * sensitive); their weights are still int8 (weight-only, bias-corrected), so the size
   * stays that of int8. Default false.
   */
  excludeFirstLast?: boolean;
  /**
   * Nodes (by name) whose activations stay float32 while their weights become int8
   * (weight-only, bias-corrected): mixed precision for the layers a sensitivity analysis
   * finds the output most sensitive to (see docs/quantization.md).
   */
  weightOnly?: readonly string[];
  /** Node names left entirely in float32 (onnxruntime's `nodes_to_exclude`). */
  exclude?: readonly string[];
  /** MatMul/Gemm weights with one scale per output column (default false: one per tensor). */
  perChannelMatMul?: boolean;
  /** 7-bit weights (onnxruntime's `reduce_range`, for x86 CPUs without VNNI; default false). */
  reduceRange?: boolean;
  /**
   * Correct each weight-only Conv/Gemm bias for the mean shift its weight rounding adds,
   * from the per-channel means of the layer's input over the inputs (default true; see
   * `biasShift`).
   */
  biasCorrection?: boolean;
}

/** What {@link quantizeModelInt8} produced. */
export interface ModelInt8Result {
  bytes: Uint8Array;
  mode: Int8Mode;
  /** Median CPU ms per run of each candidate built (one thread, interleaved, over up to 4 input sets). */
  candidates: Partial<Record<Int8Mode, number>>;
  /** The opset upgrade done first, when the model was older than 13. */
  upgraded?: { from: number; to: number };
  quantized: string[];
  skipped: Array<{ node: string; reason: string }>;
  /** Nodes whose weights are int8 but whose activations stay float32 (`weightOnly`, `excludeFirstLast`). */
  weightOnly?: string[];
}

/** Largest |a − b| over the float outputs of two runs of the same inputs. */
function maxDiff(a: TensorMap[], b: TensorMap[]): number {
  let worst = 0;
  a.forEach((ya, i) => {
    for (const [name, t] of Object.entries(ya)) {
      const u = b[i]?.[name];
      if (!(t.data instanceof Float32Array) || !u || !(u.data instanceof Float32Array)) continue;
      for (let k = 0; k < t.data.length; k++) {
        const d = Math.abs((t.data[k] as number) - (u.data[k] as number));
        worst = Math.max(
          worst,
          Number.isNaN(d) ? Number.POSITIVE_INFINITY : d / Math.max(1, Math.abs(t.data[k] as number)),
        );
      }
    }
  });
  return worst;
}

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

/** The names of the first weighted node (the one reading the model's input) and the last (the output layer), by node order. */
function firstAndLast(model: ReturnType<typeof decodeOnnxModel>): string[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  const weighted = (model.graph?.node ?? []).filter(
    (n) => !n.domain && WEIGHTED.has(n.opType ?? '') && inits.has(n.input?.[1] ?? ''),
  );
  return [weighted[0]?.name, weighted[weighted.length - 1]?.name].filter((n): n is string => !!n);
}

/** Median CPU ms per run of each candidate on `onnx:cpu` (one thread), timed interleaved on up to 4 input sets. */
/** The activation input of each of `nodes` with its channel axis (Conv: 1; MatMul/Gemm: the last). */
function layerInputs(
  model: ReturnType<typeof decodeOnnxModel>,
  nodes: ReadonlySet<string>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of model.graph?.node ?? []) {
    const x = n.input?.[0];
    if (n.domain || !x || !WEIGHTED.has(n.opType ?? '') || !nodes.has(n.name ?? '')) continue;
    out.set(x, n.opType === 'Conv' || n.opType === 'ConvTranspose' ? 1 : -1);
  }
  return out;
}

async function timeCandidates(candidates: Uint8Array[], inputs: TensorMap[]): Promise<number[]> {
  const models: LoadedModel[] = [];
  try {
    for (const bytes of candidates)
      models.push(
        await ENGINES['onnx:cpu'].load(
          { format: 'onnx', bytes },
          { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
        ),
      );
    return (await timeInterleaved(models, inputs.slice(0, 4), 5)).cpuMs;
  } finally {
    for (const model of models) await model.close();
  }
}

/**
 * INT8 the way onnxruntime's quantizer does it, in TypeScript. A model older than opset 13 is
 * upgraded first and the upgrade confirmed by running both on the inputs (outputs within 1e-4,
 * relative above 1). Constants are hoisted and BatchNormalizations folded into their Convs;
 * activation ranges are calibrated on the inputs (percentile 99.99% by default);
 * Conv/ConvTranspose/MatMul/Gemm weights become int8 (per channel for Conv) in QDQ form
 * (static), or MatMul/Gemm use DynamicQuantizeLinear + MatMulInteger (dynamic). In `auto` mode a
 * model with MatMul/Gemm weights gets both candidates, timed on `onnx:cpu` (CPU time,
 * interleaved), and the faster is kept. `weightOnly` / `excludeFirstLast` / `exclude` give mixed
 * precision (docs/quantization.md). Throws `INFER_MODEL_INVALID` when the model or its upgrade
 * does not run, `INFER_BAD_INPUT` with no inputs.
 */
export async function quantizeModelInt8(
  bytes: Uint8Array,
  options: ModelInt8Options,
): Promise<ModelInt8Result> {
  if (options.inputs.length === 0)
    throw new OutpostError('INFER_BAD_INPUT', 'int8 quantization needs at least one input set');
  const upgrade = upgradeOpset(bytes);
  let upgraded: ModelInt8Result['upgraded'];
  if (upgrade.from !== upgrade.to) {
    const check = options.inputs.slice(0, 4);
    const [before, after] = [
      await runAll(bytes, check, 'the original model'),
      await runAll(upgrade.bytes, check, `the model upgraded to opset ${upgrade.to}`),
    ];
    const diff = maxDiff(before, after);
    if (!(diff <= 1e-4)) {
      throw new OutpostError(
        'INFER_MODEL_INVALID',
        `the model upgraded from opset ${upgrade.from} to ${upgrade.to} differs from the original by ${diff}`,
      );
    }
    upgraded = { from: upgrade.from, to: upgrade.to };
  }
  const base = decodeOnnxModel(upgrade.bytes);
  hoistConstants(base);
  // BatchNormalization after a Conv folded into it (onnxruntime's pre-processing does the same):
  // the Conv then quantizes to QLinearConv with nothing float between it and its activation,
  // and its output range is calibrated after the normalisation.
  foldBatchNorms(base);
  const prepared = encodeOnnxModel(base);
  const exclude = new Map<string, string>();
  for (const node of options.exclude ?? []) exclude.set(node, 'excluded by name');
  const weightOnly = new Set(options.weightOnly ?? []);
  if (options.excludeFirstLast) for (const node of firstAndLast(base)) weightOnly.add(node);
  const biasCorrection = options.biasCorrection ?? true;
  const ranges = await calibrate(prepared, options.inputs, {
    method: options.calibration ?? 'percentile',
    percentile: options.percentile ?? 99.99,
    ...(biasCorrection && weightOnly.size ? { channelMeans: layerInputs(base, weightOnly) } : {}),
  });
  const settings = {
    perChannel: options.perChannel ?? true,
    minElements: options.minElements ?? 16,
    exclude,
    weightOnly,
    perChannelMatMul: options.perChannelMatMul ?? false,
    reduceRange: options.reduceRange ?? false,
    biasCorrection,
  };
  const build = (mode: Int8Mode) =>
    rewriteInt8(decodeOnnxModel(encodeOnnxModel(base)), ranges, { ...settings, mode });
  const wanted = options.mode ?? 'auto';
  const hasMatMul = (base.graph?.node ?? []).some((n) => n.opType === 'MatMul' || n.opType === 'Gemm');
  const modes: Int8Mode[] = wanted === 'auto' ? (hasMatMul ? ['static', 'dynamic'] : ['static']) : [wanted];
  const candidates: ModelInt8Result['candidates'] = {};
  const built = modes.map((mode) => ({ mode, rewrite: build(mode) }));
  let chosen = built[0] as (typeof built)[number];
  if (built.length > 1) {
    const ms = await timeCandidates(
      built.map((b) => b.rewrite.bytes),
      options.inputs,
    );
    built.forEach((b, i) => {
      candidates[b.mode] = ms[i] as number;
      if ((ms[i] as number) < (candidates[chosen.mode] as number)) chosen = b;
    });
  }
  return {
    bytes: chosen.rewrite.bytes,
    mode: chosen.mode,
    candidates,
    upgraded,
    quantized: chosen.rewrite.quantized,
    skipped: chosen.rewrite.skipped,
    ...(weightOnly.size ? { weightOnly: [...weightOnly] } : {}),
  };
}
