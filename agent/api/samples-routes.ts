import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { decodeTensors, TENSOR_MEDIA_TYPE } from '../../inference/index.js';
import { formatIssues, OutpostError } from '../../shared/index.js';
import { type NewSample, SAMPLE_SPLITS, type SampleSplit, type SampleStore } from '../store/sample-store.js';

/** Largest `POST /v1/samples` body, bytes (a batch of examples, JSON or binary). */
export const SAMPLES_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** Most examples in one JSON request. */
export const MAX_SAMPLES_PER_REQUEST = 10_000;

const Label = z.number().int().nonnegative();
const Split = z.enum(SAMPLE_SPLITS);
const Dims = z.array(z.number().int().positive()).min(1).max(8);
const SampleSchema = z.strictObject({
  /** Features, row-major; a flat array of finite numbers. */
  features: z.array(z.number().finite()).min(1).max(1_000_000),
  /** Shape of the features; `[features.length]` when absent. */
  dims: Dims.optional(),
  label: Label,
  split: Split.optional(),
});
const JsonBodySchema = z.union([
  SampleSchema,
  z.strictObject({
    samples: z.array(SampleSchema).min(1).max(MAX_SAMPLES_PER_REQUEST),
    /** Default split of the examples that name none. */
    split: Split.optional(),
  }),
]);
const BinaryExtraSchema = z.looseObject({
  labels: z.array(Label).min(1),
  split: Split.optional(),
});
const SplitQuerySchema = z.strictObject({ split: Split.optional() });

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error).map((p) => `${what}${p.startsWith('[') ? '' : '.'}${p}`);
    throw new OutpostError('AGENT_BAD_REQUEST', problems.join('; '), { details: problems });
  }
  return parsed.data;
}

function fromJson(body: unknown): NewSample[] {
  const parsed = parse(JsonBodySchema, body, 'body');
  const list = 'samples' in parsed ? parsed.samples : [parsed];
  const split: SampleSplit = 'samples' in parsed ? (parsed.split ?? 'train') : 'train';
  return list.map((s) => ({
    features: Float32Array.from(s.features),
    dims: s.dims ?? [s.features.length],
    label: s.label,
    split: s.split ?? split,
  }));
}

/**
 * Binary form (`application/vnd.outpost.tensors`): one float32 tensor `features` of shape
 * `[n, ...dims]`, header extra `{labels: [n labels], split?}`.
 */
function fromBinary(body: Buffer): NewSample[] {
  const { tensors, extra } = decodeTensors(body);
  const features = tensors.features;
  if (features === undefined) {
    throw new OutpostError('AGENT_BAD_REQUEST', `binary samples need a tensor named "features"`);
  }
  if (features.dtype !== 'float32' || !(features.data instanceof Float32Array) || features.dims.length < 2) {
    throw new OutpostError(
      'AGENT_BAD_REQUEST',
      `tensor "features" must be float32 of shape [n, ...], got ${features.dtype} [${features.dims.join(', ')}]`,
    );
  }
  const meta = parse(BinaryExtraSchema, extra, 'header');
  const [n = 0, ...dims] = features.dims;
  if (meta.labels.length !== n) {
    throw new OutpostError(
      'AGENT_BAD_REQUEST',
      `header.labels: ${meta.labels.length} labels for ${n} examples`,
    );
  }
  const size = features.data.length / Math.max(n, 1);
  for (const v of features.data) {
    if (!Number.isFinite(v))
      throw new OutpostError('AGENT_BAD_REQUEST', 'tensor "features" holds NaN or ±Infinity');
  }
  const split = meta.split ?? 'train';
  return meta.labels.map((label, i) => ({
    features: features.data.slice(i * size, (i + 1) * size) as Float32Array,
    dims,
    label,
    split,
  }));
}

/**
 * The sample routes of the local API. Examples stay on the device.
 * - `POST /v1/samples`: JSON `{features, dims?, label, split?}` or `{samples: [...], split?}`
 *   (at most {@link MAX_SAMPLES_PER_REQUEST}), or the binary tensor form (see
 *   {@link fromBinary}); `split` is `train` (default) or `holdout` → 201 `{stored, stats}`.
 *   Full quota → 507 `AGENT_SAMPLES_FULL`, nothing stored.
 * - `GET /v1/samples/stats` → counts per split and label, feature shape, quota.
 * - `DELETE /v1/samples[?split=train|holdout]` → `{deleted}`.
 * - `GET /v1/federated` → the task runner's status: task, busy, last error, recent rounds.
 */
export function registerSampleRoutes(
  app: FastifyInstance,
  samples: SampleStore,
  federated?: { status(): unknown },
): void {
  // The device's part in federated tasks: the current task, and what it did per round.
  if (federated) app.get('/v1/federated', async () => federated.status());
  if (!app.hasContentTypeParser(TENSOR_MEDIA_TYPE)) {
    app.addContentTypeParser(TENSOR_MEDIA_TYPE, { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
  }
  app.post('/v1/samples', { bodyLimit: SAMPLES_BODY_LIMIT_BYTES }, async (request, reply) => {
    const binary = (request.headers['content-type'] ?? '').startsWith(TENSOR_MEDIA_TYPE);
    const list = binary ? fromBinary(request.body as Buffer) : fromJson(request.body);
    const stored = samples.add(list);
    return reply.code(201).send({ stored, stats: samples.stats() });
  });
  app.get('/v1/samples/stats', async () => samples.stats());
  app.delete('/v1/samples', async (request) => {
    const query = parse(SplitQuerySchema, request.query, 'query');
    return { deleted: samples.clear(query.split) };
  });
}
