import { type Readable, Transform } from 'node:stream';
import { z } from 'zod';
import { formatIssues, OutpostError, type TensorValue, TensorValueSchema } from '../../shared/index.js';

/** Largest sample prefix of a push body, bytes. */
export const PUSH_SAMPLE_MAX_BYTES = 16 * 1024 * 1024;

const SampleSchema = z.record(z.string(), TensorValueSchema).refine((s) => Object.keys(s).length > 0, {
  message: 'names no input',
});

function parseSample(bytes: Buffer): Record<string, TensorValue> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OutpostError('HUB_BAD_REQUEST', `sample: not JSON (${(err as Error).message})`);
  }
  const parsed = SampleSchema.safeParse(json);
  if (!parsed.success) {
    throw new OutpostError('HUB_BAD_REQUEST', `sample: ${formatIssues(parsed.error).join('; ')}`);
  }
  return parsed.data;
}

/**
 * Splits a push body that starts with `sampleBytes` bytes of sample inputs (JSON,
 * `{"x": {"dtype", "dims", "data"}, ...}`) followed by the artifact: resolves once the
 * prefix has arrived, with the parsed sample and the rest of the body as a stream (the artifact,
 * still streamed, never buffered whole). Throws `HUB_BAD_REQUEST` when the body ends first
 * or the prefix is not a valid sample.
 */
export async function splitSample(
  body: Readable,
  sampleBytes: number,
): Promise<{ samples: Record<string, TensorValue>; artifact: Readable }> {
  let need = sampleBytes;
  const parts: Buffer[] = [];
  let settle!: { resolve(b: Buffer): void; reject(e: Error): void };
  const prefix = new Promise<Buffer>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const short = () =>
    new OutpostError(
      'HUB_BAD_REQUEST',
      `the body ended inside the sample (sampleBytes=${sampleBytes}, ${sampleBytes - need} received)`,
    );
  const artifact = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let rest = chunk;
      if (need > 0) {
        const take = Math.min(need, rest.length);
        parts.push(rest.subarray(0, take));
        need -= take;
        rest = rest.subarray(take);
        if (need === 0) settle.resolve(Buffer.concat(parts));
      }
      if (rest.length > 0) this.push(rest);
      done();
    },
    flush(done) {
      if (need > 0) settle.reject(short());
      done();
    },
  });
  body.on('error', (err) => {
    settle.reject(err);
    artifact.destroy(err);
  });
  body.pipe(artifact);
  if (sampleBytes === 0) settle.resolve(Buffer.alloc(0));
  try {
    return { samples: parseSample(await prefix), artifact };
  } catch (err) {
    body.unpipe(artifact);
    artifact.destroy();
    body.resume();
    throw err;
  }
}
