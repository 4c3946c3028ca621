import type { TensorSpec } from '../../shared/index.js';
import type { HostTensor, TensorDtype } from '../tensor/host-tensor.js';
import { ONNX_DTYPE } from './dtypes.js';
import {
  encodeOnnxModel,
  type IAttributeProto,
  type INodeProto,
  type IValueInfoProto,
  onnx,
} from './proto.js';
import { tensorProtoOf } from './tensor-proto.js';

/** An attribute value: number (int when integral and `int` is not false), float list, ints, string, tensor. */
export type AttributeValue =
  | number
  | string
  | number[]
  | HostTensor
  | { float: number }
  | { floats: number[] };

const A = onnx.AttributeProto.AttributeType;

function attribute(name: string, value: AttributeValue): IAttributeProto {
  if (typeof value === 'string') return { name, type: A.STRING, s: Buffer.from(value, 'utf8') };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: A.FLOATS, floats: value.floats };
  return { name, type: A.TENSOR, t: tensorProtoOf(name, value) };
}

function valueInfo(name: string, dtype: TensorDtype, shape: TensorSpec['shape']): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[dtype],
        shape: {
          dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : d === -1 ? {} : { dimValue: d })),
        },
      },
    },
  };
}

/**
 * Builds small ONNX models in TypeScript (no Python on the devices or in CI): tests make
 * their models with it, and the quantizer writes its output with it. Shapes take sizes,
 * names for dynamic axes (`'batch'`) or -1 for an anonymous dynamic axis.
 *
 * ```ts
 * const bytes = new OnnxModelBuilder('tiny')
 *   .input('x', 'float32', ['batch', 2])
 *   .initializer('w', { dtype: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) })
 *   .node('MatMul', ['x', 'w'], ['y'])
 *   .output('y', 'float32', ['batch', 2])
 *   .build();
 * ```
 */
export class OnnxModelBuilder {
  readonly #name: string;
  readonly #opset: number;
  readonly #inputs: IValueInfoProto[] = [];
  readonly #outputs: IValueInfoProto[] = [];
  readonly #initializers: ReturnType<typeof tensorProtoOf>[] = [];
  readonly #nodes: INodeProto[] = [];
  readonly #metadata: Array<{ key: string; value: string }> = [];

  /** @param opset - default ONNX opset 17 (onnxruntime 1.30 runs up to 23). */
  constructor(name: string, opset = 17) {
    this.#name = name;
    this.#opset = opset;
  }

  input(name: string, dtype: TensorDtype, shape: TensorSpec['shape']): this {
    this.#inputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  output(name: string, dtype: TensorDtype, shape: TensorSpec['shape']): this {
    this.#outputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  /** A constant weight, stored as raw little-endian data. */
  initializer(name: string, tensor: HostTensor): this {
    this.#initializers.push(tensorProtoOf(name, tensor));
    return this;
  }

  /** An operator node; `attributes` as plain values (see {@link AttributeValue}). */
  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attributes: Record<string, AttributeValue> = {},
    domain = '',
  ): this {
    this.#nodes.push({
      opType,
      domain,
      input: inputs,
      output: outputs,
      name: `${opType.toLowerCase()}_${this.#nodes.length}`,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return this;
  }

  /** A `metadata_props` entry of the model (key → string value). */
  metadata(key: string, value: string): this {
    this.#metadata.push({ key, value });
    return this;
  }

  /** The `.onnx` bytes (IR version 8). */
  build(): Uint8Array {
    return encodeOnnxModel({
      irVersion: 8,
      producerName: 'outpost',
      opsetImport: [{ domain: '', version: this.#opset }],
      ...(this.#metadata.length > 0 ? { metadataProps: this.#metadata } : {}),
      graph: {
        name: this.#name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
  }
}
