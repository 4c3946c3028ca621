import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  decodeTensors,
  encodeTensors,
  TENSOR_MEDIA_TYPE,
  type TensorMap,
  tensorToJson,
} from '../../inference/index.js';
import {
  formatIssues,
  OutpostError,
  PRECISIONS,
  SemverSchema,
  TensorValueSchema,
} from '../../shared/index.js';
import type { AgentModels } from '../inference/models-api.js';
import type { InferResult } from '../inference/runtime.js';

/** Largest inference request body, bytes (binary tensors can be large). */
const INFER_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
/** Most input sets in one JSON batch. */
const MAX_BATCH = 256;
/** Most output elements answered in JSON unless configured (`api.jsonMaxOutputElements`). */
export const DEFAULT_JSON_MAX_OUTPUT_ELEMENTS = 65_536;

/** Settings of the inference routes. */
export interface InferenceRouteOptions {
  /** Most output elements (all outputs, all sets of a batch) answered in JSON. */
  jsonMaxOutputElements: number;
}

const Inputs = z.record(z.string(), TensorValueSchema);
const InferBodySchema = z
  .strictObject({
    inputs: Inputs.optional(),
    batch: z.array(Inputs).min(1).max(MAX_BATCH).optional(),
    preprocessing: z.string().max(64).optional(),
    cache: z.boolean().optional(),
  })
  .refine(
    (b) => (b.inputs === undefined) !== (b.batch === undefined),
    'give exactly one of "inputs" and "batch"',
  );
const ActivateBodySchema = z.strictObject({
  version: SemverSchema,
  precision: z.enum(PRECISIONS).optional(),
});

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error);
    throw new OutpostError('AGENT_BAD_REQUEST', problems.join('; '), { details: problems });
  }
  return parsed.data;
}

function jsonResult(r: InferResult) {
  const outputs: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(r.outputs)) outputs[name] = tensorToJson(t);
  return { cached: r.cached, outputs, ...(r.route ? { route: r.route } : {}) };
}

const isBinary = (type: string | undefined) =>
  type !== undefined && (type.startsWith(TENSOR_MEDIA_TYPE) || type.startsWith('application/octet-stream'));

const outputElements = (results: readonly InferResult[]) => {
  let n = 0;
  for (const r of results) for (const name in r.outputs) n += (r.outputs[name]?.data.length ?? 0) as number;
  return n;
};

/**
 * Refuses a JSON answer whose outputs exceed the limit before any of it is encoded: a JSON
 * number costs ~20 bytes and a conversion per element, the binary form 4 bytes and one copy.
 */
function checkJsonSize(name: string, results: readonly InferResult[], limit: number, batch: boolean): void {
  const n = outputElements(results);
  if (n <= limit) return;
  const how = batch
    ? `send the sets one at a time with "Accept: ${TENSOR_MEDIA_TYPE}", or post binary tensors`
    : `send "Accept: ${TENSOR_MEDIA_TYPE}" (the answer is then binary) or post binary tensors`;
  throw new OutpostError(
    'INFER_OUTPUT_TOO_LARGE_FOR_JSON',
    `${name}: the outputs hold ${n} elements, over the JSON answer limit of ${limit} (api.jsonMaxOutputElements); ${how}`,
    { details: { elements: n, limit } },
  );
}

const wantsBinary = (accept: string | undefined) => accept?.includes(TENSOR_MEDIA_TYPE) === true;

function binaryAnswer(reply: FastifyReply, r: InferResult) {
  const meta = {
    model: r.model,
    version: r.version,
    precision: r.precision,
    engine: r.engine,
    cached: r.cached,
  };
  return reply.type(TENSOR_MEDIA_TYPE).send(encodeTensors(r.outputs as TensorMap, meta));
}

/**
 * The local inference API, on the agent's loopback API:
 * - `GET /v1/models`, `GET /v1/models/{name}`: installed versions, the active one with its
 *   engine, rejected engines and signature, the policy and upload counters
 * - `POST /v1/models` `{file, name, version, sha256?, manifest?, reference?, precision?, activate?}` → 201
 * - `POST /v1/models/{name}/activate` `{version, precision?}`
 * - `PUT /v1/models/{name}/policy` `{upload?, sampleRate?, cache?, preprocessing?}`
 * - `POST /v1/models/{name}/infer`: JSON `{inputs}` or `{batch: [inputs…]}` (+ `preprocessing?`,
 *   `cache?`), or the binary tensor form (`application/vnd.outpost.tensors`, see
 *   inference/tensor/binary-codec.ts), answered in the same form as the request unless `Accept`
 *   asks for the other; a JSON answer above `jsonMaxOutputElements` output elements is
 *   `INFER_OUTPUT_TOO_LARGE_FOR_JSON` (406) pointing to the binary form.
 */
export function registerInferenceRoutes(
  app: FastifyInstance,
  models: AgentModels,
  options: InferenceRouteOptions = { jsonMaxOutputElements: DEFAULT_JSON_MAX_OUTPUT_ELEMENTS },
): void {
  app.addContentTypeParser(
    [TENSOR_MEDIA_TYPE, 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: INFER_BODY_LIMIT_BYTES },
    (_request, body, done) => done(null, body),
  );

  app.get('/v1/models', async () => ({ models: models.list() }));
  app.get<{ Params: { name: string } }>('/v1/models/:name', async (request) =>
    models.get(request.params.name),
  );
  app.post('/v1/models', async (request, reply) => {
    const listing = await models.install((request.body ?? {}) as never);
    return reply.code(201).send(listing);
  });
  app.post<{ Params: { name: string } }>('/v1/models/:name/activate', async (request) => {
    const body = parse(ActivateBodySchema, request.body);
    await models.activate(request.params.name, body.version, body.precision);
    return models.get(request.params.name);
  });
  app.put<{ Params: { name: string } }>('/v1/models/:name/policy', async (request) =>
    models.setPolicy(request.params.name, (request.body ?? {}) as never),
  );
  app.post<{ Params: { name: string } }>(
    '/v1/models/:name/infer',
    { bodyLimit: INFER_BODY_LIMIT_BYTES },
    async (request, reply) => infer(models, request, reply, options.jsonMaxOutputElements),
  );
}

async function infer(
  models: AgentModels,
  request: FastifyRequest<{ Params: { name: string } }>,
  reply: FastifyReply,
  jsonLimit: number,
): Promise<unknown> {
  const { name } = request.params;
  const { accept } = request.headers;
  if (isBinary(request.headers['content-type'])) {
    const { tensors, extra } = decodeTensors(request.body as Buffer);
    const options = {
      ...(typeof extra.preprocessing === 'string' ? { preprocessing: extra.preprocessing } : {}),
      ...(typeof extra.cache === 'boolean' ? { cache: extra.cache } : {}),
    };
    const r = await models.infer(name, tensors, options);
    if (accept?.includes('application/json')) {
      checkJsonSize(name, [r], jsonLimit, false);
      return {
        model: r.model,
        version: r.version,
        precision: r.precision,
        engine: r.engine,
        ...jsonResult(r),
      };
    }
    return binaryAnswer(reply, r);
  }
  const body = parse(InferBodySchema, request.body);
  const options = {
    ...(body.preprocessing !== undefined ? { preprocessing: body.preprocessing } : {}),
    ...(body.cache !== undefined ? { cache: body.cache } : {}),
  };
  if (body.inputs) {
    const r = await models.infer(name, body.inputs, options);
    if (wantsBinary(accept)) return binaryAnswer(reply, r);
    checkJsonSize(name, [r], jsonLimit, false);
    return { model: r.model, version: r.version, precision: r.precision, engine: r.engine, ...jsonResult(r) };
  }
  const results = await models.inferBatch(name, body.batch ?? [], options);
  checkJsonSize(name, results, jsonLimit, true);
  const first = results[0] as InferResult;
  return {
    model: first.model,
    version: first.version,
    precision: first.precision,
    engine: first.engine,
    results: results.map(jsonResult),
  };
}
