import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import type { LoadedModel } from '../engines/types.js';
import type { TensorMap } from '../tensor/host-tensor.js';

/** Size, speed and accuracy of a converted model against its fp32 original. */
export interface VariantEvaluation {
  /** File sizes, bytes. */
  originalBytes: number;
  variantBytes: number;
  /** Median wall time of one run over the input set on `onnx:cpu`, ms. */
  originalMs: number;
  variantMs: number;
  /** Median CPU time of one run (this process's user + system), ms. */
  originalCpuMs: number;
  variantCpuMs: number;
  /**
   * Median over alternating rounds of (variant CPU time ÷ original CPU time), each round's
   * pair measured back to back: the speed ratio that a shared machine's load disturbs least.
   */
  timeRatio: number;
  /** Largest |variant − original| over every float output element. */
  maxAbsDiff: number;
  /** Mean |variant − original| over every float output element. */
  meanAbsDiff: number;
  /** Share of inputs whose arg-max of the first output agrees (classification accuracy vs fp32), 0-1. */
  top1Agreement: number;
  /** Rows of the first output compared for top-1. */
  top1Rows: number;
  /**
   * Top-1 agreement over the rows the original is sure of: rows that are probability
   * distributions whose top class leads the next by at least {@link CONFIDENT_MARGIN}
   * (NaN when there are none), and how many such rows there were. A row the original
   * itself nearly ties flips under any small perturbation, int8's included.
   */
  confidentTop1Agreement: number;
  confidentRows: number;
  /** How many input sets were compared. */
  samples: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Lead of the top probability over the second that makes a row "confident" for {@link VariantEvaluation}. */
export const CONFIDENT_MARGIN = 0.5;

/** The top value's lead over the second in a row when the row is a probability distribution; else NaN. */
function probabilityMargin(data: ArrayLike<number>, from: number, count: number): number {
  let sum = 0;
  let top = Number.NEGATIVE_INFINITY;
  let second = Number.NEGATIVE_INFINITY;
  for (let i = from; i < from + count; i++) {
    const v = data[i] as number;
    if (!(v >= 0 && v <= 1)) return Number.NaN;
    sum += v;
    if (v > top) {
      second = top;
      top = v;
    } else if (v > second) second = v;
  }
  return Math.abs(sum - 1) <= 1e-3 && count >= 2 ? top - second : Number.NaN;
}

function argmax(data: ArrayLike<number>, from: number, count: number): number {
  let best = from;
  for (let i = from; i < from + count; i++) if ((data[i] as number) > (data[best] as number)) best = i;
  return best - from;
}

async function open(bytes: Uint8Array, label: string): Promise<LoadedModel> {
  try {
    return await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${label} does not open on onnx:cpu: ${(err as Error).message}`,
    );
  }
}

/**
 * Times several models on the same input sets, interleaved: `rounds` rounds, each running
 * every model (in an order that alternates between rounds) over the sets, repeated until the
 * round lasts at least `minRoundMs` per model (sub-millisecond models get many runs per
 * round, so the timer's resolution and a single scheduling hiccup do not decide the figure).
 * Each pass is measured in wall time and in this process's CPU time (user + system; the
 * runs are single-threaded, so on a machine shared with other work the CPU time is what the
 * model costs, while the wall time also holds the waits for a core). Returns each model's
 * median ms per run (wall and CPU) and the median of its per-round CPU-time ratio to the first.
 */
export async function timeInterleaved(
  models: readonly LoadedModel[],
  inputs: TensorMap[],
  rounds: number,
  minRoundMs = 40,
): Promise<{ ms: number[]; cpuMs: number[]; ratioToFirst: number[] }> {
  const pass = async (model: LoadedModel, reps: number): Promise<[number, number]> => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let r = 0; r < reps; r++) for (const set of inputs) await model.run(set);
    const wall = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const runs = reps * inputs.length;
    return [wall / runs, (used.user + used.system) / 1000 / runs];
  };
  // Warm-up, and how many passes make a round long enough.
  let slowest = 0;
  for (const model of models) slowest = Math.max(slowest, (await pass(model, 1))[0]);
  const reps = Math.max(1, Math.ceil(minRoundMs / Math.max(slowest * inputs.length, 1e-3)));
  const wall = models.map(() => [] as number[]);
  const cpu = models.map(() => [] as number[]);
  const ratios = models.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    const order = models.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    const round: Array<[number, number]> = [];
    for (const i of order) round[i] = await pass(models[i] as LoadedModel, reps);
    round.forEach(([w, c], i) => {
      wall[i]?.push(w);
      cpu[i]?.push(c);
      ratios[i]?.push(c / (round[0] as [number, number])[1]);
    });
  }
  return { ms: wall.map(median), cpuMs: cpu.map(median), ratioToFirst: ratios.map(median) };
}

/**
 * Runs the fp32 original and a variant on the same input sets with `onnx:cpu` (one thread)
 * and compares them: sizes, median time per run over `rounds` interleaved rounds (default 5;
 * see {@link timeInterleaved}), output differences and top-1 agreement of the first output's
 * last axis (rows of a classifier's logits or probabilities), over all rows and over the
 * rows the original is confident of. Throws `INFER_MODEL_INVALID` when either model does not open.
 */
export async function evaluateVariant(
  original: Uint8Array,
  variant: Uint8Array,
  inputs: TensorMap[],
  rounds = 5,
): Promise<VariantEvaluation> {
  if (inputs.length === 0) throw new OutpostError('INFER_BAD_INPUT', 'the input set is empty');
  const a = await open(original, 'the original model');
  const b = await open(variant, 'the converted model');
  try {
    let maxAbs = 0;
    let sumAbs = 0;
    let count = 0;
    let agree = 0;
    let rows = 0;
    let confidentAgree = 0;
    let confidentRows = 0;
    const first = a.signature.outputs[0]?.name ?? '';
    for (const set of inputs) {
      const [ya, yb] = [await a.run(set), await b.run(set)];
      for (const [name, ta] of Object.entries(ya)) {
        const tb = yb[name];
        if (!tb || Array.isArray(ta.data) || Array.isArray(tb.data) || ta.dtype !== 'float32') continue;
        for (let i = 0; i < ta.data.length; i++) {
          const d = Math.abs(Number(ta.data[i]) - Number(tb.data[i]));
          maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
          sumAbs += d;
          count++;
        }
        if (name !== first) continue;
        const width = ta.dims[ta.dims.length - 1] ?? 1;
        for (let r = 0; r * width < ta.data.length; r++, rows++) {
          const same =
            argmax(ta.data as ArrayLike<number>, r * width, width) ===
            argmax(tb.data as ArrayLike<number>, r * width, width);
          if (same) agree++;
          if (probabilityMargin(ta.data as ArrayLike<number>, r * width, width) >= CONFIDENT_MARGIN) {
            confidentRows++;
            if (same) confidentAgree++;
          }
        }
      }
    }
    const timed = await timeInterleaved([a, b], inputs, rounds);
    return {
      originalBytes: original.byteLength,
      variantBytes: variant.byteLength,
      originalMs: timed.ms[0] as number,
      variantMs: timed.ms[1] as number,
      originalCpuMs: timed.cpuMs[0] as number,
      variantCpuMs: timed.cpuMs[1] as number,
      timeRatio: timed.ratioToFirst[1] as number,
      maxAbsDiff: maxAbs,
      meanAbsDiff: count ? sumAbs / count : 0,
      top1Agreement: rows ? agree / rows : Number.NaN,
      top1Rows: rows,
      confidentTop1Agreement: confidentRows ? confidentAgree / confidentRows : Number.NaN,
      confidentRows,
      samples: inputs.length,
    };
  } finally {
    await a.close();
    await b.close();
  }
}
