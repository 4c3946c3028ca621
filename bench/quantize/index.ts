import {
  convertFp16,
  evaluateVariant,
  quantizeModelInt8,
  type VariantEvaluation,
} from '../../inference/index.js';
import { ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { quantizeZoo, type ZooModel } from './zoo.js';

const GOALS = { fp16Size: 0.55, int8Size: 0.35, matmulSpeedup: 1.5, top1: 0.99 };

function verdicts(model: ZooModel, fp16: VariantEvaluation, int8: VariantEvaluation): string[] {
  const missed: string[] = [];
  const size = (e: VariantEvaluation) => e.variantBytes / e.originalBytes;
  const time = (e: VariantEvaluation) => e.variantMs / e.originalMs;
  if (size(fp16) > GOALS.fp16Size) missed.push(`fp16 size ${ratio(size(fp16))} > ${GOALS.fp16Size}×`);
  // The CLI refuses an fp16 result whose outputs move by more than 10% of their range.
  if (fp16.maxAbsDiff > 0.1)
    missed.push(`fp16 outputs wrong (max |diff| ${fp16.maxAbsDiff.toFixed(2)}; the CLI refuses it)`);
  if (model.kind !== 'recurrent' && size(int8) > GOALS.int8Size)
    missed.push(`int8 size ${ratio(size(int8))} > ${GOALS.int8Size}×`);
  if (model.kind === 'matmul' && time(int8) > 1 / GOALS.matmulSpeedup)
    missed.push(`int8 time ${ratio(time(int8))} > ${ratio(1 / GOALS.matmulSpeedup)}`);
  if (model.kind === 'conv' && time(int8) > 1) missed.push(`int8 time ${ratio(time(int8))} > 1.00× (CNN)`);
  for (const [p, e] of [
    ['fp16', fp16],
    ['int8', int8],
  ] as const)
    if (model.classifies && e.top1Agreement < GOALS.top1)
      missed.push(`${p} top-1 ${(e.top1Agreement * 100).toFixed(1)}% < 99%`);
  return missed;
}

/**
 * `npm run bench -- quantize`: each model of {@link quantizeZoo} converted to fp16 and int8
 * (the quantizer's own choice of static or dynamic, timed on the same inputs) and compared
 * with its fp32 original in the same process on `onnx:cpu`, one thread: size, time, output
 * differences, top-1 agreement where the model classifies, and the goals each one misses.
 */
export const quantizeBenchmark: Benchmark = {
  description:
    'int8 and fp16 against fp32 on real models (OCR, VAD, wake word, digits): size, time, accuracy',
  async run({ quick, progress }) {
    const zoo = quantizeZoo(quick ? 2 : 4);
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const model of zoo) {
      progress(model.name);
      const fp16 = await evaluateVariant(
        model.bytes,
        convertFp16(model.bytes).bytes,
        model.inputs,
        quick ? 2 : 7,
      );
      const int8 = await quantizeModelInt8(model.bytes, { inputs: model.inputs });
      const e8 = await evaluateVariant(model.bytes, int8.bytes, model.inputs, quick ? 2 : 7);
      const top1 = (e: VariantEvaluation) =>
        model.classifies ? `${(e.top1Agreement * 100).toFixed(1)}%` : '—';
      for (const [precision, e] of [
        ['fp16', fp16],
        [`int8 ${int8.mode}`, e8],
      ] as const) {
        rows.push([
          precision === 'fp16' ? model.name : '',
          precision,
          ratio(e.variantBytes / e.originalBytes),
          `${e.originalMs.toFixed(2)} ms`,
          ratio(e.variantMs / e.originalMs),
          e.maxAbsDiff.toExponential(1),
          e.meanAbsDiff.toExponential(1),
          top1(e),
        ]);
      }
      const upgraded = int8.upgraded ? `opset ${int8.upgraded.from}→${int8.upgraded.to}; ` : '';
      const cands = Object.entries(int8.candidates)
        .map(([m, ms]) => `${m} ${ms.toFixed(2)} ms`)
        .join(', ');
      const missed = verdicts(model, fp16, e8);
      notes.push(
        `${model.name} (${model.kind}; ${model.source}): ${model.inputNote}. ${upgraded}int8 weights ${int8.quantized.length}, left float32 ${int8.skipped.length}${cands ? `; candidates ${cands}` : ''}. ${missed.length ? `Goals missed: ${missed.join('; ')}` : 'All goals met'}.`,
      );
    }
    return [
      `quantize benchmark${quick ? ' (--quick: fewer inputs and rounds, do not publish)' : ''} — ${machine()}`,
      'each variant against its fp32 original in this process, onnx:cpu, 1 thread, median time per run',
      '',
      table(
        [
          'model',
          'variant',
          'size ÷ fp32',
          'fp32 time',
          'time ÷ fp32',
          'max |diff|',
          'mean |diff|',
          'top-1 agree',
        ],
        rows,
      ),
      '',
      `goals: fp16 ≤ ${GOALS.fp16Size}× size; int8 ≤ ${GOALS.int8Size}× size (Conv/MatMul models), ≥ ${GOALS.matmulSpeedup}× faster (MatMul-heavy), never slower (CNNs); top-1 ≥ 99% where the model classifies`,
      ...notes.map((n) => `- ${n}`),
    ].join('\n');
  },
};
