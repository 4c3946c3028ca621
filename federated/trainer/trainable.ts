import { OutpostError } from '../../shared/index.js';
import type { ModelWeights } from '../types.js';
import type { TensorShape } from '../weights.js';
import { layerWeights, parseLayerStack } from './layers.js';

/**
 * Which layers a fine-tuning task trains: layer names, or the last `last` layers that have
 * weights (Dense, Conv2D, BatchNormalization), counted from the output.
 */
export type TrainableLayers = string[] | { last: number };

function bad(message: string): OutpostError {
  return new OutpostError('FL_BAD_PARAMS', `trainableLayers: ${message}`);
}

/** The layer list of a Sequential topology (the object `parseLayerStack` reads). */
function layerList(
  topology: Record<string, unknown>,
): Array<{ class_name?: string; config?: Record<string, unknown> }> {
  const root = (
    topology.class_name === undefined && 'model_config' in topology ? topology.model_config : topology
  ) as { config?: { layers?: unknown[] } | unknown[] };
  const raw = Array.isArray(root.config) ? root.config : root.config?.layers;
  return (raw ?? []) as Array<{ class_name?: string; config?: Record<string, unknown> }>;
}

/**
 * Freezes every layer but the ones `which` names: returns a copy of `topology` whose layers
 * carry `trainable: true` (named, or among the last N layers with weights) or `false` (all
 * others, so the trainer never moves them), and the names of the trainable layers in model
 * order. Throws `FL_BAD_PARAMS` for a name that is not a layer, a layer without weights, or
 * a count outside 1..layers with weights.
 */
export function applyTrainableLayers(
  topology: Record<string, unknown>,
  which: TrainableLayers,
): { topology: Record<string, unknown>; layers: string[] } {
  const stack = parseLayerStack(topology);
  const weighted = stack.layers.filter((l) => layerWeights(l).length > 0).map((l) => l.name);
  let chosen: Set<string>;
  if (Array.isArray(which)) {
    if (which.length === 0) throw bad('no layer named');
    const all = new Set(stack.layers.map((l) => l.name));
    const unknown = which.filter((n) => !all.has(n));
    if (unknown.length > 0)
      throw bad(`no layer ${unknown.join(', ')}; the layers with weights are ${weighted.join(', ')}`);
    const empty = which.filter((n) => !weighted.includes(n));
    if (empty.length > 0) throw bad(`${empty.join(', ')} has no weights to train`);
    chosen = new Set(which);
  } else {
    if (!(Number.isInteger(which.last) && which.last >= 1 && which.last <= weighted.length))
      throw bad(`last ${which.last}; the model has ${weighted.length} layers with weights`);
    chosen = new Set(weighted.slice(-which.last));
  }
  const copy = structuredClone(topology);
  const names = new Set(stack.layers.map((l) => l.name));
  for (const [i, l] of layerList(copy).entries()) {
    if (l.class_name === 'InputLayer') continue;
    l.config ??= {};
    const name = String(l.config.name ?? `${String(l.class_name).toLowerCase()}_${i}`);
    if (!names.has(name)) continue;
    l.config.trainable = chosen.has(name);
  }
  return { topology: copy, layers: weighted.filter((n) => chosen.has(n)) };
}

/**
 * The weight tensors training can change, in model order: every tensor of the layers whose
 * `trainable` is not false (kernels, biases, BatchNormalization's gamma/beta and its moving
 * statistics). A frozen layer's tensors never change, so an update carries only these.
 */
export function trainableTensors(topology: Record<string, unknown>): TensorShape[] {
  return parseLayerStack(topology).layers.flatMap((l) =>
    l.trainable ? layerWeights(l).map(({ name, shape }) => ({ name, shape })) : [],
  );
}

/** The tensors of `weights` named in `names` (in `weights`' order). Throws when one is missing. */
export function pickTensors(weights: ModelWeights, names: ReadonlyArray<string>): ModelWeights {
  const wanted = new Set(names);
  const out = weights.filter((w) => wanted.has(w.name));
  if (out.length !== wanted.size) {
    const have = new Set(weights.map((w) => w.name));
    const missing = names.filter((n) => !have.has(n));
    throw new OutpostError('FL_BAD_PARAMS', `weights have no tensor ${missing.join(', ')}`);
  }
  return out;
}

/**
 * `full` with the tensors of `part` put in place by name (a new list; the tensors `part` does
 * not name are `full`'s own). Throws `FL_BAD_PARAMS` when `part` names a tensor `full` lacks
 * or carries another shape.
 */
export function mergeTensors(full: ModelWeights, part: ModelWeights): ModelWeights {
  const byName = new Map(part.map((t) => [t.name, t]));
  const out = full.map((t) => {
    const p = byName.get(t.name);
    if (p === undefined) return t;
    if (p.values.length !== t.values.length || p.shape.join(',') !== t.shape.join(','))
      throw new OutpostError('FL_BAD_PARAMS', `tensor ${t.name}: [${p.shape}] does not fit [${t.shape}]`);
    byName.delete(t.name);
    return { name: t.name, shape: [...t.shape], values: p.values };
  });
  if (byName.size > 0)
    throw new OutpostError('FL_BAD_PARAMS', `the model has no tensor ${[...byName.keys()].join(', ')}`);
  return out;
}
