import type { HostTensor, TensorMap } from '../../inference/index.js';
import { binIndex, DRIFT_MAX_FEATURES, type DriftSummary, type DriftTelemetry } from '../../shared/index.js';
import { firstObservedRow, observedStride } from '../metrics/observed-rows.js';
import type { DriftEdges } from './drift-edges.js';

interface Row {
  model: string;
  version: string;
  rows: number;
  features: number[][];
  classes: number[];
}

/** Rows in one tensor: its first dimension when it has two or more, else 1. */
function rowsOf(t: HostTensor): number {
  return t.dims.length >= 2 ? (t.dims[0] as number) : 1;
}

/** The first tensor of a map in insertion order (the model's first input/output); no array built. */
function first(map: TensorMap | undefined): HostTensor | undefined {
  if (map === undefined) return undefined;
  for (const name in map) return map[name];
  return undefined;
}

/**
 * Adds the arg-max class of the observed rows of `data` (rows of `classes` scores) to
 * `counts`: every row of a small batch, an even rotating sample of a large one.
 */
function countClasses(data: ArrayLike<number>, classes: number, counts: number[], turn: number): void {
  const rows = Math.floor(data.length / classes);
  const stride = observedStride(rows);
  for (let r = firstObservedRow(turn, stride); r < rows; r += stride) {
    const start = r * classes;
    let best = 0;
    let top = data[start] as number;
    for (let c = 1; c < classes; c++) {
      const v = data[start + c] as number;
      if (v > top) {
        top = v;
        best = c;
      }
    }
    counts[best] = (counts[best] as number) + 1;
  }
}

/**
 * Summarises each model version's traffic for drift detection, in memory:
 * per feature a histogram over the baseline's bin edges (from {@link DriftEdges}; none
 * while the hub has no baseline), and the histogram of the predicted class (argmax of
 * the first output per row, when it has a class axis). Only counts leave the device, never
 * inputs. Of a large batch only an even, rotating sample of rows is counted
 * (`observed-rows.ts`); `rows` counts every row served. {@link drain} hands out the window
 * and starts a new one.
 */
export class DriftSummarizer {
  #rows = new Map<string, Row>();
  /** The row of the previous call (most calls repeat the model version: no key to build). */
  #last: Row | undefined;
  /** Calls recorded: rotates the rows sampled from large batches. */
  #turn = 0;
  #from: number;

  constructor(private readonly now: () => number) {
    this.#from = now();
  }

  /** Counts one answered inference; `edges` undefined = only the class histogram. */
  record(
    model: string,
    version: string,
    inputs: TensorMap,
    outputs: TensorMap | undefined,
    edges: DriftEdges | undefined,
  ): void {
    const input = first(inputs);
    if (input === undefined || outputs === undefined) return;
    let row = this.#last;
    if (row === undefined || row.model !== model || row.version !== version) {
      const key = `${model}@${version}`;
      row = this.#rows.get(key);
      if (row === undefined) {
        row = { model, version, rows: 0, features: [], classes: [] };
        this.#rows.set(key, row);
      }
      this.#last = row;
    }
    const n = rowsOf(input);
    const width = n === 0 ? 0 : input.data.length / n;
    const turn = this.#turn++;
    if (edges && row.features.length === 0)
      row.features = edges.edges
        .slice(0, DRIFT_MAX_FEATURES)
        .map((e) => new Array<number>(e.length + 1).fill(0));
    if (edges && row.features.length === edges.edges.length && typeof input.data[0] !== 'bigint') {
      const stride = observedStride(n);
      for (let r = firstObservedRow(turn, stride); r < n; r += stride) {
        for (let f = 0; f < row.features.length; f++) {
          const element = edges.elements[f] ?? f;
          if (element >= width) continue;
          const value = Number(input.data[r * width + element]);
          const counts = row.features[f] as number[];
          const bin = binIndex(edges.edges[f] as number[], value);
          counts[bin] = (counts[bin] as number) + 1;
        }
      }
    }
    const output = first(outputs);
    if (output && output.dims.length >= 1 && typeof output.data[0] === 'number') {
      const classes = output.dims[output.dims.length - 1] as number;
      if (classes > 1 && classes <= 4096) {
        if (row.classes.length < classes)
          row.classes.push(...new Array<number>(classes - row.classes.length).fill(0));
        countClasses(output.data as ArrayLike<number>, classes, row.classes, turn);
      }
    }
    row.rows += n;
  }

  /** The window's summaries (undefined when nothing was counted); starts a new window. */
  drain(): DriftTelemetry | undefined {
    const to = this.now();
    const models: DriftSummary[] = [...this.#rows.values()]
      .filter((r) => r.rows > 0)
      .slice(0, 64)
      .map((r) => ({
        model: r.model,
        version: r.version,
        rows: r.rows,
        features: r.features,
        classes: r.classes,
      }));
    const from = this.#from;
    this.#rows = new Map();
    this.#last = undefined;
    this.#from = to;
    return models.length ? { from, to, models } : undefined;
  }
}
