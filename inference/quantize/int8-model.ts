import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import { decodeOnnxModel, encodeOnnxModel } from '../onnx/proto.js';
import type { TensorMap } from '../tensor/host-tensor.js';
import { calibrate, runAll } from './calibrate.js';
import { hoistConstants } from './fold-batchnorm.js';
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
}

/** What {@link quantizeModelInt8} produced. */
export interface ModelInt8Result {
  bytes: Uint8Array;
  mode: Int8Mode;
  /** Median ms per run of each candidate built (one thread, over the inputs). */
  candidates: Partial<Record<Int8Mode, number>>;
  /** The opset upgrade done first, when the model was older than 13. */
  upgraded?: { from: number; to: number };
  quantized: string[];
  skipped: Array<{ node: string; reason: string }>;
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

async function timePerRun(bytes: Uint8Array, inputs: TensorMap[]): Promise<number> {
  const sets = inputs.slice(0, 4);
  const model = await ENGINES['onnx:cpu'].load(
    { format: 'onnx', bytes },
    { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
  );
  try {
    for (const set of sets) await model.run(set); // warm-up
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const start = performance.now();
      for (const set of sets) await model.run(set);
      times.push((performance.now() - start) / sets.length);
    }
    return times.sort((a, b) => a - b)[2] as number;
  } finally {
    await model.close();
  }
}

/**
 * INT8 the way onnxruntime's quantizer does it, in TypeScript. A model older than opset 13 is
 * upgraded first and the upgrade confirmed by running both on the inputs (outputs within 1e-4,
 * relative above 1). Activation ranges are calibrated on the inputs; Conv/ConvTranspose/
 * MatMul/Gemm weights become per-channel int8 in QDQ form (static), or MatMul/Gemm use
 * DynamicQuantizeLinear + MatMulInteger (dynamic). In `auto` mode a model with MatMul/Gemm
 * weights gets both candidates, timed on `onnx:cpu`, and the faster is kept. Throws
 * `INFER_MODEL_INVALID` when the model or its upgrade does not run, `INFER_BAD_INPUT` with no inputs.
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
  const ranges = await calibrate(upgrade.bytes, options.inputs);
  const settings = { perChannel: options.perChannel ?? true, minElements: options.minElements ?? 16 };
  const build = (mode: Int8Mode) =>
    rewriteInt8(decodeOnnxModel(encodeOnnxModel(base)), ranges, { ...settings, mode });
  const wanted = options.mode ?? 'auto';
  const hasMatMul = (base.graph?.node ?? []).some((n) => n.opType === 'MatMul' || n.opType === 'Gemm');
  const modes: Int8Mode[] = wanted === 'auto' ? (hasMatMul ? ['static', 'dynamic'] : ['static']) : [wanted];
  const candidates: ModelInt8Result['candidates'] = {};
  let best: { mode: Int8Mode; rewrite: ReturnType<typeof build>; ms: number } | undefined;
  for (const mode of modes) {
    const rewrite = build(mode);
    const ms = modes.length > 1 ? await timePerRun(rewrite.bytes, options.inputs) : 0;
    if (modes.length > 1) candidates[mode] = ms;
    if (!best || ms < best.ms) best = { mode, rewrite, ms };
  }
  const chosen = best as NonNullable<typeof best>;
  return {
    bytes: chosen.rewrite.bytes,
    mode: chosen.mode,
    candidates,
    upgraded,
    quantized: chosen.rewrite.quantized,
    skipped: chosen.rewrite.skipped,
  };
}
