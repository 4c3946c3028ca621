import { z } from 'zod';
import { convertFp16 } from './fp16.js';
import { quantizeInt8 } from './int8.js';

/** The conversions `outpost models quantize` offers, by target precision. */
export const QuantizationSchema = z.enum(['int8', 'fp16']);
export type Quantization = z.infer<typeof QuantizationSchema>;

/** A conversion: model bytes in, model bytes out, with a one-line account of what changed. */
export interface Quantizer {
  convert(bytes: Uint8Array, options: { perChannel?: boolean }): { bytes: Uint8Array; summary: string };
}

/** One quantizer per precision. */
export const QUANTIZERS: Readonly<Record<Quantization, Quantizer>> = {
  int8: {
    convert(bytes, options) {
      const r = quantizeInt8(bytes, options);
      const skipped = r.skipped.map((s) => `${s.node} (${s.reason})`).join(', ');
      return {
        bytes: r.bytes,
        summary: `int8 weights: ${r.quantized.join(', ') || 'none'}${skipped ? `; left float32: ${skipped}` : ''}`,
      };
    },
  },
  fp16: {
    convert(bytes) {
      const r = convertFp16(bytes);
      return {
        bytes: r.bytes,
        summary: `float16 tensors: ${r.converted.length}; nodes kept in float32: ${r.keptFloat32.length}; float32 kept at inputs ${r.castInputs.join(', ') || '-'} and outputs ${r.castOutputs.join(', ') || '-'} through Cast`,
      };
    },
  },
};
