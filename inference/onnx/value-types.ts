import { type IAttributeProto, type IGraphProto, type INodeProto, onnx } from './proto.js';

const T = onnx.TensorProto.DataType;

const BOOL_OPS = new Set([
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
]);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);

const attr = (node: INodeProto, name: string): IAttributeProto | undefined =>
  (node.attribute ?? []).find((a) => a.name === name);
const num = (v: number | { toNumber(): number } | null | undefined): number | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? v : v.toNumber();

/** The element type of each output of `node`, given the types known so far (undefined where unknown). */
function outputTypes(node: INodeProto, known: ReadonlyMap<string, number>): Array<number | undefined> {
  const typeOf = (name: string) => known.get(name);
  const op = node.domain ? `${node.domain}.${node.opType}` : (node.opType ?? '');
  const outs = node.output ?? [];
  const first = typeOf(node.input?.[0] ?? '');
  const all = (t: number | undefined) => outs.map(() => t);
  if (BOOL_OPS.has(op)) return all(T.BOOL);
  if (INT64_OPS.has(op)) return all(T.INT64);
  switch (op) {
    case 'Cast':
      return all(num(attr(node, 'to')?.i));
    case 'CastLike':
      return all(typeOf(node.input?.[1] ?? ''));
    case 'Constant': {
      const a = (node.attribute ?? [])[0];
      if (a?.t) return all(a.t.dataType ?? undefined);
      if (a?.name === 'value_float' || a?.name === 'value_floats') return all(T.FLOAT);
      if (a?.name === 'value_int' || a?.name === 'value_ints') return all(T.INT64);
      return all(undefined);
    }
    case 'ConstantOfShape':
      return all(attr(node, 'value')?.t?.dataType ?? T.FLOAT);
    case 'Where':
      return all(typeOf(node.input?.[1] ?? ''));
    case 'TopK':
    case 'MaxPool':
      return outs.map((_, i) => (i === 0 ? first : T.INT64));
    case 'DequantizeLinear':
      return all(T.FLOAT);
    case 'QuantizeLinear':
      return all(typeOf(node.input?.[2] ?? '') ?? T.UINT8);
    case 'DynamicQuantizeLinear':
      return [T.UINT8, T.FLOAT, T.UINT8];
    case 'MatMulInteger':
    case 'ConvInteger':
      return all(T.INT32);
    case 'If':
    case 'Loop':
    case 'Scan': {
      // Typed by the body's declared outputs (Loop's body starts with its condition).
      const body = (node.attribute ?? []).find((a) => a.g)?.g;
      const inner = body ? valueTypes(body, known) : new Map<string, number>();
      const declared = (body?.output ?? []).map(
        (o) => o.type?.tensorType?.elemType || inner.get(o.name ?? ''),
      );
      return op === 'Loop' ? declared.slice(1) : declared;
    }
    default:
      return all(first);
  }
}

/**
 * The element type (`TensorProto.DataType`) of every value in a graph that can be told from
 * the graph alone: declared inputs, outputs and value infos, initializers, then each node in
 * order (nodes are topologically sorted in ONNX) by its op's typing rule: comparisons give
 * bool, Shape/Size/ArgMax give int64, Cast gives its `to`, most ops give their first input's
 * type. `outer` supplies the types of values a subgraph reads from its enclosing graph.
 */
export function valueTypes(graph: IGraphProto, outer?: ReadonlyMap<string, number>): Map<string, number> {
  const types = new Map<string, number>(outer ?? []);
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const t = v.type?.tensorType?.elemType;
    if (v.name && t) types.set(v.name, t);
  }
  for (const t of graph.initializer ?? []) if (t.name && t.dataType) types.set(t.name, t.dataType);
  for (const node of graph.node ?? []) {
    const out = outputTypes(node, types);
    (node.output ?? []).forEach((name, i) => {
      const t = out[i];
      if (name && t !== undefined && !types.has(name)) types.set(name, t);
    });
  }
  return types;
}
