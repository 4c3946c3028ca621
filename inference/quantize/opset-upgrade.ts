import { OutpostError } from '../../shared/index.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  type IAttributeProto,
  type IGraphProto,
  type INodeProto,
  type ITensorProto,
  type ModelProto,
  onnx,
} from '../onnx/proto.js';
import { tensorProtoOf } from '../onnx/tensor-proto.js';
import { defaultOpset, nameMinter } from './graph-edit.js';

/** The opset {@link upgradeOpset} brings older models to (per-axis DequantizeLinear needs it). */
export const TARGET_OPSET = 13;

/** Ops whose older form cannot be carried over; the upgrade refuses a model that uses them. */
const UNSUPPORTED = new Set(['Upsample', 'TopK', 'Scatter']);

const num = (v: number | { toNumber(): number } | null | undefined) =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? v : v.toNumber();

type Minted = { name: (base: string) => string; inits: ITensorProto[] };

function take(node: INodeProto, name: string): IAttributeProto | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  if (a) node.attribute = (node.attribute ?? []).filter((x) => x !== a);
  return a;
}

function ints(minted: Minted, base: string, values: number[]): string {
  const name = minted.name(base);
  minted.inits.push(
    tensorProtoOf(name, {
      dtype: 'int64',
      dims: [values.length],
      data: BigInt64Array.from(values.map(BigInt)),
    }),
  );
  return name;
}

function scalar(minted: Minted, base: string, value: number): string {
  const name = minted.name(base);
  minted.inits.push(tensorProtoOf(name, { dtype: 'float32', dims: [], data: Float32Array.of(value) }));
  return name;
}

/** An attribute of `node` moved to input `slot` (an int64 initializer); '' fills skipped slots. */
function intsToInput(
  node: INodeProto,
  attr: string,
  slot: number,
  minted: Minted,
  from: number,
  opset: number,
): void {
  if (opset >= from) return;
  const a = take(node, attr);
  if (!a) return;
  const input = [...(node.input ?? [])];
  while (input.length < slot) input.push('');
  input[slot] = ints(
    minted,
    `${node.name || node.opType}_${attr}`,
    (a.ints ?? []).map((v) => num(v) ?? 0),
  );
  node.input = input;
}

/** Rewrites one node from `opset` semantics to {@link TARGET_OPSET}'s; returns the nodes replacing it. */
function upgradeNode(node: INodeProto, opset: number, minted: Minted): INodeProto[] {
  const op = node.domain ? '' : (node.opType ?? '');
  if (UNSUPPORTED.has(op)) {
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `cannot upgrade ${op} (${node.name ?? ''}) from opset ${opset} to ${TARGET_OPSET}`,
    );
  }
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) if (g) upgradeGraph(g, opset, minted);
  }
  switch (op) {
    case 'Clip':
      if (opset < 11) {
        const min = take(node, 'min');
        const max = take(node, 'max');
        node.input = [
          node.input?.[0] ?? '',
          min ? scalar(minted, `${node.name || 'clip'}_min`, min.f ?? 0) : '',
          max ? scalar(minted, `${node.name || 'clip'}_max`, max.f ?? 0) : '',
        ];
      }
      return [node];
    case 'Slice':
      intsToInput(node, 'starts', 1, minted, 10, opset);
      intsToInput(node, 'ends', 2, minted, 10, opset);
      intsToInput(node, 'axes', 3, minted, 10, opset);
      return [node];
    case 'Squeeze':
    case 'Unsqueeze':
    case 'ReduceSum':
      intsToInput(node, 'axes', 1, minted, 13, opset);
      return [node];
    case 'Split':
      intsToInput(node, 'split', 1, minted, 13, opset);
      return [node];
    case 'Pad':
      if (opset < 11) {
        const pads = take(node, 'pads');
        const value = take(node, 'value');
        node.input = [
          node.input?.[0] ?? '',
          ints(
            minted,
            `${node.name || 'pad'}_pads`,
            (pads?.ints ?? []).map((v) => num(v) ?? 0),
          ),
          value ? scalar(minted, `${node.name || 'pad'}_value`, value.f ?? 0) : '',
        ];
      }
      return [node];
    case 'Dropout':
      // Inference: Dropout is the identity (and its ratio moved to an input in opset 12).
      return [{ ...node, opType: 'Identity', attribute: [], output: [node.output?.[0] ?? ''] }];
    case 'BatchNormalization': {
      const spatial = take(node, 'spatial');
      if (spatial && num(spatial.i) === 0)
        throw new OutpostError(
          'INFER_MODEL_INVALID',
          `cannot upgrade BatchNormalization with spatial=0 (${node.name ?? ''})`,
        );
      take(node, 'momentum');
      return [node];
    }
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax': {
      if (opset >= 13) return [node];
      // Before opset 13 these flatten the input to 2-D at `axis` (default 1) and normalise
      // each row; from 13 on they normalise along `axis` only. The old meaning, exactly:
      // Flatten at axis, the op along the last axis, Reshape back to the input's shape.
      const axis = num(take(node, 'axis')?.i) ?? 1;
      if (axis === -1)
        return [
          { ...node, attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] },
        ];
      const x = node.input?.[0] ?? '';
      const base = node.name || op;
      const [flat, shape, y2] = [
        minted.name(`${base}_flat`),
        minted.name(`${base}_shape`),
        minted.name(`${base}_2d`),
      ];
      const intAttr = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
      return [
        {
          opType: 'Flatten',
          domain: '',
          name: minted.name(`${base}_flatten`),
          input: [x],
          output: [flat],
          attribute: [intAttr('axis', axis)],
        },
        { opType: 'Shape', domain: '', name: minted.name(`${base}_shape_of`), input: [x], output: [shape] },
        { ...node, input: [flat], output: [y2], attribute: [intAttr('axis', -1)] },
        {
          opType: 'Reshape',
          domain: '',
          name: minted.name(`${base}_reshape`),
          input: [y2, shape],
          output: [node.output?.[0] ?? ''],
        },
      ];
    }
    default:
      return [node];
  }
}

function upgradeGraph(graph: IGraphProto, opset: number, minted: Minted): void {
  graph.node = (graph.node ?? []).flatMap((n) => upgradeNode(n, opset, minted));
}

/**
 * Brings a model older than {@link TARGET_OPSET} to it: attributes that became inputs (Clip
 * min/max, Slice starts/ends/axes, Squeeze/Unsqueeze/ReduceSum axes, Split sizes, Pad pads)
 * move to int64/float initializers, Softmax/LogSoftmax/Hardmax keep their old flatten-to-2-D
 * meaning through Flatten and Reshape, Dropout becomes Identity, subgraphs likewise; the IR
 * version goes to 7 at least. Returns the model unchanged when it is already at 13 or later.
 * Throws `INFER_MODEL_INVALID` for opsets before 7 and ops it cannot carry over (Upsample,
 * TopK, Scatter), naming them. The caller should run both on real inputs to confirm.
 */
export function upgradeOpset(bytes: Uint8Array): { bytes: Uint8Array; from: number; to: number } {
  const model: ModelProto = decodeOnnxModel(bytes);
  const from = defaultOpset(model);
  if (from >= TARGET_OPSET) return { bytes, from, to: from };
  if (from < 7)
    throw new OutpostError(
      'INFER_MODEL_INVALID',
      `cannot upgrade a model of opset ${from} (7 or later needed)`,
    );
  const minted: Minted = { name: nameMinter(model), inits: [] };
  const graph = model.graph as IGraphProto;
  upgradeGraph(graph, from, minted);
  graph.initializer = [...(graph.initializer ?? []), ...minted.inits];
  for (const entry of model.opsetImport ?? []) if (!entry.domain) entry.version = TARGET_OPSET;
  if ((num(model.irVersion) ?? 0) < 7) model.irVersion = 7;
  return { bytes: encodeOnnxModel(model), from, to: TARGET_OPSET };
}
