import { pino } from 'pino';
import { OutpostError } from '../../shared/index.js';
import { ENGINES } from '../engines/registry.js';
import { decodeOnnxModel, encodeOnnxModel, onnx } from '../onnx/proto.js';
import { valueTypes } from '../onnx/value-types.js';
import type { TensorMap } from '../tensor/host-tensor.js';

/** The smallest and largest value a float tensor took over the calibration inputs. */
export interface Range {
  min: number;
  max: number;
  /** Mean of each channel over the inputs, when asked for (`CalibrationOptions.channelMeans`). */
  channelMeans?: Float64Array;
}

/** Runs a model on `onnx:cpu` (one thread); rejects with `INFER_MODEL_INVALID` naming `label`. */
export async function runAll(bytes: Uint8Array, inputs: TensorMap[], label: string): Promise<TensorMap[]> {
  let model: Awaited<ReturnType<(typeof ENGINES)['onnx:cpu']['load']>>;
  try {
    model = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${label} does not open on onnx:cpu: ${(err as Error).message}`,
    );
  }
  try {
    const out: TensorMap[] = [];
    for (const set of inputs) {
      try {
        out.push(await model.run(set));
      } catch (err) {
        throw new OutpostError('INFER_MODEL_INVALID', `${label} does not run: ${(err as Error).message}`);
      }
    }
    return out;
  } finally {
    await model.close();
  }
}

/** How activation ranges are taken from the calibration runs. */
export type CalibrationMethod = 'minmax' | 'percentile';

/** Options of {@link calibrate}. */
export interface CalibrationOptions {
  /**
   * `minmax`: the smallest and largest value seen. `percentile` (onnxruntime's
   * `CalibrationMethod.Percentile`): the range that holds `percentile`% of the values of each
   * tensor, read from a histogram of 2048 bins per tensor (a second pass over the inputs),
   * so a few outliers do not stretch the scale every other value is rounded to.
   */
  method?: CalibrationMethod;
  /** Share of values kept inside the range by `percentile`, % (default 99.999, as onnxruntime). */
  percentile?: number;
  /**
   * Tensors whose per-channel means to record, each with its channel axis (negative: from the
   * end), the inputs of the quantized layers, for bias correction.
   */
  channelMeans?: ReadonlyMap<string, number>;
}

const BINS = 2048;

/**
 * Runs `model` with every float32 graph value exposed as an output on each input set, one
 * set at a time (only one set's values are held at once), handing each value to `visit`
 * (graph inputs included).
 */
async function visitValues(
  bytes: Uint8Array,
  inputs: TensorMap[],
  visit: (name: string, data: Float32Array, dims: readonly number[]) => void,
): Promise<void> {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph;
  if (!graph) throw new OutpostError('INFER_MODEL_INVALID', 'the ONNX model has no graph');
  const types = valueTypes(graph);
  const declared = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const constants = new Set(
    (graph.node ?? []).filter((n) => n.opType === 'Constant').flatMap((n) => n.output ?? []),
  );
  const values = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((v) => v && !constants.has(v));
  for (const v of values) {
    if (types.get(v) !== onnx.TensorProto.DataType.FLOAT || declared.has(v)) continue;
    graph.output?.push({ name: v, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  }
  const label = 'the model being calibrated';
  let session: Awaited<ReturnType<(typeof ENGINES)['onnx:cpu']['load']>>;
  try {
    session = await ENGINES['onnx:cpu'].load(
      { format: 'onnx', bytes: encodeOnnxModel(model) },
      { intraOpThreads: 1, interOpThreads: 1, options: {}, log: pino({ level: 'silent' }) },
    );
  } catch (err) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `${label} does not open on onnx:cpu: ${(err as Error).message}`,
    );
  }
  try {
    for (const set of inputs) {
      let result: TensorMap;
      try {
        result = await session.run(set);
      } catch (err) {
        throw new OutpostError('INFER_MODEL_INVALID', `${label} does not run: ${(err as Error).message}`);
      }
      for (const [name, t] of Object.entries(result))
        if (t.data instanceof Float32Array) visit(name, t.data, t.dims);
      for (const [name, t] of Object.entries(set))
        if (!(name in result) && t.data instanceof Float32Array) visit(name, t.data, t.dims);
    }
  } finally {
    await session.close();
  }
}

/**
 * The range of every float32 value in the top-level graph (graph inputs and node outputs)
 * over real inputs: the model is run once per input set with those values exposed as extra
 * outputs (twice for `percentile`: ranges, then histograms). Static quantization takes
 * activation scales from these ranges, so the inputs should look like what the model will
 * see in service.
 */
export async function calibrate(
  bytes: Uint8Array,
  inputs: TensorMap[],
  options: CalibrationOptions = {},
): Promise<Map<string, Range>> {
  const ranges = new Map<string, Range>();
  const full = await minMax(bytes, inputs, options.channelMeans);
  if ((options.method ?? 'minmax') === 'minmax' || inputs.length === 0) return full;
  const histograms = new Map<string, { lo: number; width: number; counts: Float64Array; total: number }>();
  await visitValues(bytes, inputs, (name, data) => {
    const r = full.get(name);
    if (!r) return;
    let h = histograms.get(name);
    if (!h) {
      const width = (r.max - r.min) / BINS;
      h = { lo: r.min, width, counts: new Float64Array(BINS), total: 0 };
      histograms.set(name, h);
    }
    const { lo, width, counts } = h;
    for (let i = 0; i < data.length; i++) {
      const x = data[i] as number;
      if (Number.isNaN(x)) continue;
      const bin = width > 0 ? Math.min(BINS - 1, Math.max(0, Math.floor((x - lo) / width))) : 0;
      counts[bin] = (counts[bin] as number) + 1;
    }
    h.total += data.length;
  });
  const keep = (options.percentile ?? 99.999) / 100;
  for (const [name, r] of full) {
    const h = histograms.get(name);
    if (!h || h.total === 0 || h.width === 0) {
      ranges.set(name, r);
      continue;
    }
    // Cut (1 − keep) / 2 of the values from each end, whole bins at a time.
    const cut = ((1 - keep) / 2) * h.total;
    let lowBin = 0;
    for (let acc = 0; lowBin < BINS - 1 && acc + (h.counts[lowBin] as number) <= cut; lowBin++)
      acc += h.counts[lowBin] as number;
    let highBin = BINS - 1;
    for (let acc = 0; highBin > lowBin && acc + (h.counts[highBin] as number) <= cut; highBin--)
      acc += h.counts[highBin] as number;
    ranges.set(name, {
      ...r,
      min: Math.max(r.min, h.lo + lowBin * h.width),
      max: Math.min(r.max, h.lo + (highBin + 1) * h.width),
    });
  }
  return ranges;
}

/**
 * The smallest and largest value of every exposed float32 value over the inputs (0 always
 * inside), and the per-channel means of those in `means` (name → channel axis).
 */
async function minMax(
  bytes: Uint8Array,
  inputs: TensorMap[],
  means?: ReadonlyMap<string, number>,
): Promise<Map<string, Range>> {
  const ranges = new Map<string, Range>();
  const counts = new Map<string, number>();
  await visitValues(bytes, inputs, (name, data, dims) => {
    let r = ranges.get(name);
    if (!r) {
      r = { min: 0, max: 0 };
      ranges.set(name, r);
    }
    for (let i = 0; i < data.length; i++) {
      const x = data[i] as number;
      if (x < r.min) r.min = x;
      else if (x > r.max) r.max = x;
    }
    const wanted = means?.get(name);
    if (wanted === undefined) return;
    const axis = wanted < 0 ? dims.length + wanted : wanted;
    if (axis < 0 || axis >= dims.length) return;
    const channels = dims[axis] as number;
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    r.channelMeans ??= new Float64Array(channels);
    const sums = r.channelMeans;
    for (let i = 0; i < data.length; i++) {
      const c = Math.floor(i / inner) % channels;
      sums[c] = (sums[c] as number) + (data[i] as number);
    }
    counts.set(name, (counts.get(name) ?? 0) + data.length / channels);
  });
  for (const [name, n] of counts) {
    const sums = ranges.get(name)?.channelMeans;
    if (sums) for (let c = 0; c < sums.length; c++) sums[c] = (sums[c] as number) / n;
  }
  return ranges;
}
