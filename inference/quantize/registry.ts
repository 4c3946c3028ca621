import { z } from 'zod';
import type { TensorMap } from '../tensor/host-tensor.js';
import { convertFp16 } from './fp16.js';
import { quantizeModelInt8 } from './int8-model.js';

/** The conversions `outpost models quantize` offers, by target precision. */
export const QuantizationSchema = z.enum(['int8', 'fp16']);
export type Quantization = z.infer<typeof QuantizationSchema>;

/** A conversion: model bytes in, model bytes out, with a one-line account of what changed. */
export interface Quantizer {
  convert(
    bytes: Uint8Array,
    options: { perChannel?: boolean; inputs: TensorMap[] },
  ): Promise<{ bytes: Uint8Array; summary: string }>;
}

/** One quantizer per precision. */
export const QUANTIZERS: Readonly<Record<Quantization, Quantizer>> = {
  int8: {
    async convert(bytes, options) {
      const r = await quantizeModelInt8(bytes, options);
      const skipped = r.skipped.map((s) => `${s.node} (${s.reason})`).join(', ');
      const timed = Object.entries(r.candidates).map(([m, ms]) => `${m} ${ms.toFixed(3)} ms`);
      const upgraded = r.upgraded ? `opset ${r.upgraded.from} upgraded to ${r.upgraded.to}; ` : '';
      return {
        bytes: r.bytes,
        summary: `${upgraded}${r.mode} int8 (${timed.length ? `faster of ${timed.join(', ')}` : 'the only candidate'}); int8 weights: ${r.quantized.length ? `${r.quantized.length} (${r.quantized.slice(0, 5).join(', ')}${r.quantized.length > 5 ? ', …' : ''})` : 'none'}${skipped ? `; left float32: ${skipped}` : ''}`,
      };
    },
  },
  fp16: {
    async convert(bytes) {
      const r = convertFp16(bytes);
      return {
        bytes: r.bytes,
        summary: `float16 tensors: ${r.converted.length}; nodes kept in float32: ${r.keptFloat32.length}; float32 kept at inputs ${r.castInputs.join(', ') || '-'} and outputs ${r.castOutputs.join(', ') || '-'} through Cast`,
      };
    },
  },
};
