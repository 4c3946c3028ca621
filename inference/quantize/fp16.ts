import {
  decodeOnnxModel,
  encodeOnnxModel,
  type IGraphProto,
  type INodeProto,
  type ITensorProto,
  onnx,
} from '../onnx/proto.js';
import { hostTensorOf, tensorProtoOf } from '../onnx/tensor-proto.js';
import { valueTypes } from '../onnx/value-types.js';
import { toHalfArray } from '../tensor/float16.js';
import { foldBatchNorms, hoistConstants } from './fold-batchnorm.js';
import { nameMinter } from './graph-edit.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/**
 * Ops that run in float32 inside an fp16 model, with Casts around them (onnxruntime's float16
 * converter keeps the same list): their float inputs carry shapes, sizes, coordinates or
 * counts (Resize scales, Range bounds, RoiAlign boxes, NonMaxSuppression thresholds), or they
 * lose too much in float16 (CumSum, TopK ties; normalisations, whose running variances of
 * 1e-6 and less are below float16's resolution: a real text detector's output moved by up to
 * 1.0 with BatchNormalization in float16), or they have no float16 kernel (the classic ML ops). Loop and Scan stay float32 as a whole with their bodies; If branches are converted.
 */
export const FP16_BLOCKED_OPS: ReadonlySet<string> = new Set([
  'ArrayFeatureExtractor',
  'BatchNormalization',
  'Binarizer',
  'CastMap',
  'CategoryMapper',
  'CumSum',
  'DictVectorizer',
  'FeatureVectorizer',
  'InstanceNormalization',
  'Imputer',
  'LabelEncoder',
  'LinearClassifier',
  'LayerNormalization',
  'LinearRegressor',
  'Loop',
  'Max',
  'Min',
  'NonMaxSuppression',
  'Normalizer',
  'OneHotEncoder',
  'RandomUniformLike',
  'Range',
  'Resize',
  'RoiAlign',
  'SVMClassifier',
  'SVMRegressor',
  'Scaler',
  'Scan',
  'TopK',
  'TreeEnsembleClassifier',
  'TreeEnsembleRegressor',
  'Upsample',
  'ZipMap',
]);

/** What {@link convertFp16} changed. */
export interface Fp16Result {
  bytes: Uint8Array;
  /** Initializers and constants now stored as float16. */
  converted: string[];
  /** Nodes kept in float32 (blocked ops and shape arithmetic), by name or op. */
  keptFloat32: string[];
  /** Graph inputs and outputs that keep float32 at the interface through a Cast. */
  castInputs: string[];
  castOutputs: string[];
}

function halfOf(proto: ITensorProto): ITensorProto {
  const t = hostTensorOf(proto);
  return tensorProtoOf(proto.name ?? '', {
    dtype: 'float16',
    dims: t.dims,
    data: toHalfArray(t.data as Float32Array),
  });
}

/** Names a node's subgraphs read from the enclosing graph. */
function outerReads(node: INodeProto): Set<string> {
  const reads = new Set<string>();
  const visit = (g: IGraphProto) => {
    const defined = new Set<string>([
      ...(g.input ?? []).map((i) => i.name ?? ''),
      ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ]);
    for (const n of g.node ?? []) {
      for (const i of n.input ?? []) if (i && !defined.has(i)) reads.add(i);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
      for (const o of n.output ?? []) defined.add(o);
    }
    for (const o of g.output ?? []) if (o.name && !defined.has(o.name)) reads.add(o.name);
  };
  for (const a of node.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
  return reads;
}

function renameInSubgraphs(node: INodeProto, from: string, to: string): void {
  const visit = (g: IGraphProto) => {
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((i) => (i === from ? to : i));
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
    }
  };
  for (const a of node.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
}

const castNode = (name: string, input: string, output: string, to: number): INodeProto => ({
  opType: 'Cast',
  domain: '',
  name,
  input: [input],
  output: [output],
  attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }],
});

/**
 * FP16 conversion: Constants become initializers and BatchNormalizations that follow a Conv are
 * folded into it (see foldBatchNorms); then float32 initializers, Constants and Casts-to-float become float16 and the
 * computation runs in float16, except (a) the ops of {@link FP16_BLOCKED_OPS}, (b) shape
 * arithmetic: nodes whose inputs all derive from Shape/Size and constants (they compute Resize
 * sizes, Reshape targets and the like; float16 would round them). Those run in float32 and
 * their constants stay float32; a Cast joins the two precisions wherever a float value crosses.
 * The interface stays as declared: float32 graph inputs are cast to float16 where they enter
 * and float32 outputs are cast back as they leave. Throws `INFER_MODEL_INVALID` for bytes that
 * are not an ONNX model.
 */
export function convertFp16(bytes: Uint8Array): Fp16Result {
  const model = decodeOnnxModel(bytes);
  hoistConstants(model);
  foldBatchNorms(model);
  const graph = model.graph as IGraphProto;
  const result: Omit<Fp16Result, 'bytes'> = {
    converted: [],
    keptFloat32: [],
    castInputs: [],
    castOutputs: [],
  };
  convertGraph(graph, nameMinter(model), result);
  return { bytes: encodeOnnxModel(model), ...result };
}

/** What an enclosing graph tells a subgraph: the types and precisions of the values it can read. */
interface Outer {
  types: ReadonlyMap<string, number>;
  precision: ReadonlyMap<string, number>;
}

/**
 * Converts one graph in place. The top-level graph keeps float32 at its inputs and outputs;
 * an `If` branch (`outer` given) reads the enclosing values at their precision and returns
 * its float outputs in float16, as the If node that holds it is a float16 node.
 */
function convertGraph(
  graph: IGraphProto,
  fresh: (base: string) => string,
  result: Omit<Fp16Result, 'bytes'>,
  outer?: Outer,
): void {
  const nodes = graph.node ?? [];
  const types = valueTypes(graph, outer?.types);
  const isFloat = (v: string) => types.get(v) === FLOAT;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  // Values derived from shapes only, and the nodes computing them.
  const isConstant = (n: INodeProto) => n.opType === 'Constant' && !n.domain;
  const staticValues = new Set<string>(inits.keys());
  const shapeDerived = new Set<string>();
  const kept = new Set<INodeProto>();
  for (const n of nodes) {
    const ins = (n.input ?? []).filter(Boolean);
    if (isConstant(n)) for (const o of n.output ?? []) staticValues.add(o);
    else if (n.opType === 'Shape' || n.opType === 'Size') for (const o of n.output ?? []) shapeDerived.add(o);
    else if (
      n.opType !== 'If' &&
      ins.length > 0 &&
      ins.every((i) => staticValues.has(i) || shapeDerived.has(i)) &&
      ins.some((i) => shapeDerived.has(i))
    ) {
      for (const o of n.output ?? []) shapeDerived.add(o);
      kept.add(n);
    }
    if (FP16_BLOCKED_OPS.has(n.opType ?? '') && !n.domain) kept.add(n);
  }
  // Which precision each consumer wants; constants go float16 only when every reader is float16.
  const wantsFp32 = new Map<string, boolean>();
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const n of nodes) {
    const reads = [...(n.input ?? []), ...outerReads(n)];
    for (const i of reads) if (kept.has(n)) wantsFp32.set(i, true);
  }
  if (!outer) for (const o of outputs) wantsFp32.set(o, true);
  const precision = new Map<string, number>(outer?.precision); // FLOAT or FLOAT16 for each float value
  const { converted, keptFloat32, castInputs, castOutputs } = result;
  for (const [name, t] of inits) {
    if (t.dataType !== FLOAT) continue;
    if (wantsFp32.get(name)) precision.set(name, FLOAT);
    else {
      inits.set(name, halfOf(t));
      precision.set(name, FLOAT16);
      converted.push(name);
    }
  }
  graph.initializer = [...inits.values()];
  for (const input of graph.input ?? [])
    if (isFloat(input.name ?? '') && !inits.has(input.name ?? '')) precision.set(input.name ?? '', FLOAT);
  for (const n of nodes) {
    const fp32 = kept.has(n);
    if (fp32) keptFloat32.push(n.name || n.opType || '');
    const outPrecision = fp32 ? FLOAT : FLOAT16;
    if (isConstant(n)) {
      const a = (n.attribute ?? []).find((x) => x.t);
      const name = n.output?.[0] ?? '';
      if (a?.t && a.t.dataType === FLOAT && !wantsFp32.get(name)) {
        a.t = halfOf(a.t);
        converted.push(name);
        precision.set(name, FLOAT16);
      } else if (isFloat(name)) precision.set(name, FLOAT);
      continue;
    }
    if (!fp32 && n.opType === 'Cast' && !n.domain) {
      for (const a of n.attribute ?? []) if (a.name === 'to' && Number(a.i) === FLOAT) a.i = FLOAT16;
    }
    if (!fp32 && n.opType === 'ConstantOfShape') {
      const a = (n.attribute ?? []).find((x) => x.name === 'value');
      if (a?.t && a.t.dataType === FLOAT) a.t = halfOf(a.t);
    }
    for (const o of n.output ?? []) if (isFloat(o)) precision.set(o, outPrecision);
  }
  // Casts where a float value crosses precisions (one per value and direction).
  const casts = new Map<string, string>();
  const out: INodeProto[] = [];
  const crossing = (v: string, want: number): string => {
    const have = precision.get(v);
    if (have === undefined || have === want) return v;
    const key = `${v}\u0000${want}`;
    let name = casts.get(key);
    if (!name) {
      name = fresh(`${v}_${want === FLOAT ? 'fp32' : 'fp16'}`);
      casts.set(key, name);
      out.push(castNode(fresh(`cast_${name}`), v, name, want));
      if (have === FLOAT && !inits.has(v) && (graph.input ?? []).some((i) => i.name === v))
        castInputs.push(v);
    }
    return name;
  };
  for (const n of nodes) {
    const want = kept.has(n) ? FLOAT : FLOAT16;
    if (!isConstant(n)) n.input = (n.input ?? []).map((i) => (i ? crossing(i, want) : i));
    if (kept.has(n))
      for (const r of outerReads(n)) {
        const c = crossing(r, FLOAT);
        if (c !== r) renameInSubgraphs(n, r, c);
      }
    else if (n.opType === 'If' && !n.domain) {
      const inner: Outer = { types, precision };
      for (const a of n.attribute ?? []) if (a.g) convertGraph(a.g, fresh, result, inner);
    }
    out.push(n);
  }
  if (outer) {
    // A branch hands its float outputs to a float16 If.
    for (const o of graph.output ?? []) {
      const name = o.name ?? '';
      if (!isFloat(name)) continue;
      o.name = crossing(name, FLOAT16);
      if (o.type?.tensorType) o.type.tensorType.elemType = FLOAT16;
    }
    graph.node = out;
    graph.valueInfo = [];
    return;
  }
  // Float32 outputs computed in float16 leave through a Cast under their declared name.
  for (const o of graph.output ?? []) {
    const name = o.name ?? '';
    if (precision.get(name) !== FLOAT16) continue;
    const half = fresh(`${name}_fp16`);
    for (const n of out) {
      n.output = (n.output ?? []).map((x) => (x === name ? half : x));
      n.input = (n.input ?? []).map((x) => (x === name ? half : x));
    }
    out.push(castNode(fresh(`cast_${name}_to_fp32`), half, name, FLOAT));
    castOutputs.push(name);
  }
  graph.node = out;
  // Intermediate shapes were float32; onnxruntime infers them again, so they are dropped.
  graph.valueInfo = [];
}
