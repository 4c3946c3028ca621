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

function verdicts(
  model: ZooModel,
  fp16: VariantEvaluation,
  int8: VariantEvaluation,
  label = 'int8',
): string[] {
  const missed: string[] = [];
  const size = (e: VariantEvaluation) => e.variantBytes / e.originalBytes;
  const time = (e: VariantEvaluation) => e.timeRatio;
  if (label === 'int8' && size(fp16) > GOALS.fp16Size)
    missed.push(`fp16 size ${ratio(size(fp16))} > ${GOALS.fp16Size}×`);
  // The CLI refuses an fp16 result whose outputs move by more than 10% of their range.
  if (label === 'int8' && fp16.maxAbsDiff > 0.1)
    missed.push(`fp16 outputs wrong (max |diff| ${fp16.maxAbsDiff.toFixed(2)}; the CLI refuses it)`);
  if (model.kind !== 'recurrent' && size(int8) > GOALS.int8Size)
    missed.push(`${label} size ${ratio(size(int8))} > ${GOALS.int8Size}×`);
  if (model.kind === 'matmul' && time(int8) > 1 / GOALS.matmulSpeedup)
    missed.push(`${label} time ${ratio(time(int8))} > ${ratio(1 / GOALS.matmulSpeedup)}`);
  if (model.kind === 'conv' && time(int8) > 1)
    missed.push(`${label} time ${ratio(time(int8))} > 1.00× (CNN)`);
  const checks: Array<readonly [string, VariantEvaluation]> =
    label === 'int8'
      ? [
          ['fp16', fp16],
          [label, int8],
        ]
      : [[label, int8]];
  for (const [p, e] of checks)
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
  async run({ quick, progress, params }) {
    // `--model=NAME` runs only the models whose name contains NAME (case-insensitive).
    const only = params?.model?.toLowerCase();
    const zoo = quantizeZoo(quick ? 2 : 4).filter((m) => !only || m.name.toLowerCase().includes(only));
    if (zoo.length === 0)
      throw new Error(`no model of the quantize benchmark matches --model=${params?.model}`);
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const model of zoo) {
      progress(model.name);
      // Interleaved rounds of at least 40 ms per model: enough for a sub-millisecond model's ratio.
      const rounds = quick ? 3 : 15;
      const fp16 = await evaluateVariant(model.bytes, convertFp16(model.bytes).bytes, model.inputs, rounds);
      const int8 = await quantizeModelInt8(model.bytes, { inputs: model.inputs });
      const e8 = await evaluateVariant(model.bytes, int8.bytes, model.inputs, rounds);
      const variants: Array<readonly [string, VariantEvaluation]> = [
        ['fp16', fp16],
        [`int8 ${int8.mode}`, e8],
      ];
      let tuned: { result: typeof int8; e: VariantEvaluation } | undefined;
      if (model.tuned) {
        progress(`${model.name}, ${model.tuned.label}`);
        const result = await quantizeModelInt8(model.bytes, { inputs: model.inputs, ...model.tuned.options });
        tuned = { result, e: await evaluateVariant(model.bytes, result.bytes, model.inputs, rounds) };
        variants.push([`${model.tuned.label} ${result.mode}`, tuned.e]);
      }
      const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)}%`);
      for (const [precision, e] of variants) {
        rows.push([
          precision === 'fp16' ? model.name : '',
          precision,
          ratio(e.variantBytes / e.originalBytes),
          `${e.originalCpuMs.toFixed(2)} ms`,
          ratio(e.timeRatio),
          e.maxAbsDiff.toExponential(1),
          e.meanAbsDiff.toExponential(1),
          model.classifies ? pct(e.top1Agreement) : '—',
          model.classifies && e.confidentRows > 0
            ? `${pct(e.confidentTop1Agreement)} of ${e.confidentRows}`
            : '—',
        ]);
      }
      const upgraded = int8.upgraded ? `opset ${int8.upgraded.from}→${int8.upgraded.to}; ` : '';
      const cands = Object.entries(int8.candidates)
        .map(([m, ms]) => `${m} ${ms.toFixed(2)} ms`)
        .join(', ');
      const missed = verdicts(model, fp16, e8);
      if (tuned && model.tuned) missed.push(...verdicts(model, fp16, tuned.e, model.tuned.label));
      notes.push(
        `${model.name} (${model.kind}; ${model.source}): ${model.inputNote}. ${upgraded}int8 weights ${int8.quantized.length}, left float32 ${int8.skipped.length}${cands ? `; candidates (CPU) ${cands}` : ''}${model.tuned ? `; ${model.tuned.label}: ${model.tuned.note}` : ''}. ${missed.length ? `Goals missed: ${missed.join('; ')}` : 'All goals met'}.`,
      );
    }
    return [
      `quantize benchmark${quick ? ' (--quick: fewer inputs and rounds, do not publish)' : ''} — ${machine()}`,
      'each variant against its fp32 original in this process, onnx:cpu, 1 thread: CPU time per run (this process, user + system), median of interleaved rounds; "sure rows": rows where fp32 leads its second class by ≥ 0.5',
      '',
      table(
        [
          'model',
          'variant',
          'size ÷ fp32',
          'fp32 CPU',
          'CPU ÷ fp32',
          'max |diff|',
          'mean |diff|',
          'top-1 agree',
          'top-1, sure rows',
        ],
        rows,
      ),
      '',
      `goals: fp16 ≤ ${GOALS.fp16Size}× size; int8 ≤ ${GOALS.int8Size}× size (Conv/MatMul models), ≥ ${GOALS.matmulSpeedup}× faster (MatMul-heavy), never slower (CNNs); top-1 ≥ 99% where the model classifies`,
      ...notes.map((n) => `- ${n}`),
    ].join('\n');
  },
};
