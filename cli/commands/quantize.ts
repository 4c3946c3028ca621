import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import {
  DIGIT_PIXELS,
  evaluateVariant,
  generatedInputSet,
  inputSetFromJson,
  loadDigits,
  QUANTIZERS,
  QuantizationSchema,
  readOnnxSignature,
  runAll,
  type TensorMap,
  type VariantEvaluation,
} from '../../inference/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { createProgress } from '../progress.js';

export const QUANTIZE_HELP = `outpost models quantize IN.onnx --int8 | --fp16 -o OUT.onnx [--inputs set.json]
                        [--mnist N] [--samples N] [--per-tensor] [--json]

Converts an ONNX model in TypeScript (no Python), as onnxruntime's quantizer does.
--int8: upgrades a model older than opset 13 (checked by running both), calibrates
activation ranges on the input set, and stores Conv/ConvTranspose/MatMul/Gemm weights as
int8 (Conv: one scale per output channel, --per-tensor for one; MatMul/Gemm: one per
tensor): QDQ form (static) or,
for MatMul/Gemm, DynamicQuantizeLinear + MatMulInteger (dynamic); when both apply it times
both on onnx:cpu and keeps the faster. --fp16: float16 tensors, with shape-carrying and
precision-critical ops (Resize, Range, normalisations, control flow, shape arithmetic) kept
in float32 and Casts at the float32 inputs and outputs (the interface stays as declared).
The result is written to a temporary file, run, and only then renamed to OUT (exit 2 and
OUT untouched when it does not run). Then compares both on onnx:cpu over the input set
(--inputs: one {"x": {dtype, dims, data}} map or an array of them, real data for
calibration; --mnist N: N real held-out MNIST digits in batches of 10, for a digits model
taking x [batch, 784]; else --samples generated ones, default 64) and prints size, speed
and accuracy against the original.`;

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

function inputSet(flags: ConfigObject, bytes: Uint8Array): { sets: TensorMap[]; source: string } {
  if (typeof flags.inputs === 'string') {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(flags.inputs, 'utf8'));
    } catch (err) {
      throw new CliError(`--inputs ${flags.inputs}: ${(err as Error).message}`, EXIT.USAGE);
    }
    return { sets: inputSetFromJson(json), source: flags.inputs };
  }
  if (flags.mnist !== undefined) {
    const count = Number(flags.mnist);
    if (!Number.isInteger(count) || count < 10 || count > 600)
      throw new CliError(`--mnist must be an integer from 10 to 600, got ${String(flags.mnist)}`, EXIT.USAGE);
    const digits = loadDigits(Math.floor(count / 10), 800); // digits 800+ of each class: held out by the demo and tests
    const sets: TensorMap[] = [];
    for (let i = 0; i + 10 <= digits.labels.length; i += 10) {
      sets.push({
        x: {
          dtype: 'float32',
          dims: [10, DIGIT_PIXELS],
          data: digits.pixels.slice(i * DIGIT_PIXELS, (i + 10) * DIGIT_PIXELS),
        },
      });
    }
    return { sets, source: `${sets.length * 10} real MNIST digits` };
  }
  const samples = flags.samples === undefined ? 64 : Number(flags.samples);
  if (!Number.isInteger(samples) || samples < 1)
    throw new CliError(`--samples must be a positive integer, got ${String(flags.samples)}`, EXIT.USAGE);
  return { sets: generatedInputSet(readOnnxSignature(bytes), samples), source: `${samples} generated` };
}

/**
 * Writes the converted model next to `output` under a temporary name, opens and runs it on
 * onnx:cpu, and only then renames it into place: a model that does not open or run leaves
 * `output` as it was and ends the command with exit 2 and onnxruntime's reason.
 */
async function writeChecked(
  output: string,
  original: Uint8Array,
  bytes: Uint8Array,
  check: TensorMap[],
  maxDrift?: number,
): Promise<void> {
  const before = await runAll(original, check, 'the original model').catch((err: unknown) => {
    throw new CliError(
      `models quantize: ${(err as Error).message} on the input set; give inputs it runs on with --inputs`,
      EXIT.USAGE,
    );
  });
  const temporary = `${output}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  try {
    const after = await runAll(bytes, check, 'the converted model');
    const drift = worstDrift(before, after);
    if (maxDrift !== undefined && drift.diff > maxDrift * Math.max(drift.scale, 1e-3)) {
      throw new Error(
        `the converted model's output "${drift.name}" moves by up to ${drift.diff.toPrecision(3)} against values up to ${drift.scale.toPrecision(3)} (more than ${maxDrift * 100}%)`,
      );
    }
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new CliError(`models quantize: ${(err as Error).message}; ${output} was not written`, EXIT.USAGE);
  }
  renameSync(temporary, output);
}

/** The float output that moved most: its largest |Δ| and the largest |value| it has in the original. */
function worstDrift(a: TensorMap[], b: TensorMap[]): { name: string; diff: number; scale: number } {
  let worst = { name: '', diff: 0, scale: 1 };
  a.forEach((ya, i) => {
    for (const [name, t] of Object.entries(ya)) {
      const u = b[i]?.[name]?.data;
      if (!(t.data instanceof Float32Array) || !(u instanceof Float32Array)) continue;
      let diff = 0;
      let scale = 0;
      t.data.forEach((v, k) => {
        const d = Math.abs(v - (u[k] as number));
        diff = Math.max(diff, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
        scale = Math.max(scale, Math.abs(v));
      });
      if (diff / Math.max(scale, 1e-3) > worst.diff / Math.max(worst.scale, 1e-3))
        worst = { name, diff, scale };
    }
  });
  return worst;
}

/** The printed comparison (also used by the demo). */
export function describeEvaluation(precision: string, e: VariantEvaluation): string {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  return table(
    ['', 'fp32', precision, 'ratio'],
    [
      ['size', kib(e.originalBytes), kib(e.variantBytes), (e.variantBytes / e.originalBytes).toFixed(2)],
      ['ms/run', e.originalMs.toFixed(4), e.variantMs.toFixed(4), e.timeRatio.toFixed(2)],
      ['max |diff|', '-', e.maxAbsDiff.toExponential(2), ''],
      ['mean |diff|', '-', e.meanAbsDiff.toExponential(2), ''],
      ['top-1 agreement', '-', `${(e.top1Agreement * 100).toFixed(1)}%`, ''],
    ],
  );
}

/** `outpost models quantize IN --int8|--fp16 -o OUT`. */
export async function runQuantizeCommand(args: string[], flags: ConfigObject): Promise<void> {
  const [input] = args;
  const output = typeof flags.output === 'string' ? flags.output : undefined;
  const chosen = (['int8', 'fp16'] as const).filter((p) => flags[p] === true);
  if (!input || !output || chosen.length !== 1) {
    throw new CliError(
      `models quantize needs IN.onnx, one of --int8/--fp16, and -o OUT.onnx\n\n${QUANTIZE_HELP}`,
      EXIT.USAGE,
    );
  }
  const precision = QuantizationSchema.parse(chosen[0]);
  const original = readBytes(input);
  // Long work on big models: a bar on stderr when it is a terminal (never with --json).
  const progress = createProgress(`quantize ${precision}`, {
    enabled: flags.json !== true && process.stderr.isTTY,
  });
  progress.update(0, 3, 'converting');
  let converted: { bytes: Uint8Array; summary: string };
  let sets: { sets: TensorMap[]; source: string };
  try {
    sets = inputSet(flags, original);
    converted = await QUANTIZERS[precision].convert(original, {
      perChannel: flags.perTensor !== true,
      inputs: sets.sets,
    });
  } catch (err) {
    throw new CliError(`models quantize ${input}: ${(err as Error).message}`, EXIT.USAGE);
  }
  // fp16 is expected to stay within a few per mille; an output moved by more than 10% of its
  // range means the conversion broke the model (seen: an LSTM state in a nested If).
  await writeChecked(
    output,
    original,
    converted.bytes,
    sets.sets.slice(0, 1),
    precision === 'fp16' ? 0.1 : undefined,
  );
  progress.update(2, 3, `evaluating on ${sets.sets.length} input sets`);
  const evaluation = await evaluateVariant(original, converted.bytes, sets.sets).catch((err: unknown) => {
    throw new CliError(`models quantize: ${(err as Error).message}`);
  });
  progress.finish();
  if (flags.json === true) {
    console.log(
      JSON.stringify({ output, precision, inputs: sets.source, summary: converted.summary, ...evaluation }),
    );
    return;
  }
  console.log(`${output}: ${converted.summary}`);
  console.log(`against ${input} on onnx:cpu over ${sets.sets.length} input sets (${sets.source}):`);
  console.log(describeEvaluation(precision, evaluation));
}
