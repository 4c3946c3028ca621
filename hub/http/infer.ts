import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type TensorMap, tensorFromJson, tensorToJson } from '../../inference/index.js';
import { OutpostError, TensorValueSchema } from '../../shared/index.js';
import { createCallerAuth } from '../inference/device-auth.js';
import { type HttpDeps, parseRequest } from './context.js';

/** Path prefix of cloud inference: devices authenticate themselves here, not with the admin token. */
export const INFER_PREFIX = '/v1/infer/';

/** Body of `POST /v1/infer/:name`. */
export const CloudInferRequestSchema = z.strictObject({
  inputs: z.record(z.string(), TensorValueSchema),
});

const ParamsSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 of [a-z0-9._-]'),
});

/**
 * Cloud inference, on the same engine code as the agents:
 * - `POST /v1/infer/:name` `{inputs: {NAME: {dtype, dims, data}}}` →
 *   `{model, version, engine, outputs}`; auth: admin bearer, or a device's id and secret as
 *   HTTP Basic. 401 `HUB_UNAUTHORIZED`, 404 `INFER_MODEL_NOT_FOUND`, 400 `INFER_BAD_INPUT` /
 *   `HUB_BAD_REQUEST` naming the tensor, 500 `INFER_NO_ENGINE` / `INFER_ENGINE_FAILED`.
 * - `GET /v1/infer` (admin) → `{models: [{name, version, engine, rejected}]}`.
 */
export function registerInferRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const authenticate = createCallerAuth(deps.store, deps.adminToken, deps.authFailures);

  app.get('/v1/infer', async () => ({ models: deps.models?.list() ?? [] }));

  app.post('/v1/infer/:name', async (request) => {
    const caller = await authenticate(request);
    const { name } = parseRequest(ParamsSchema, request.params, 'path');
    const body = parseRequest(CloudInferRequestSchema, request.body, 'inference request');
    if (!deps.models) throw new OutpostError('INFER_MODEL_NOT_FOUND', 'the hub serves no models');
    const inputs: TensorMap = {};
    for (const [tensor, value] of Object.entries(body.inputs)) inputs[tensor] = tensorFromJson(tensor, value);
    const result = await deps.models.infer(name, inputs);
    const outputs: Record<string, ReturnType<typeof tensorToJson>> = {};
    for (const [tensor, t] of Object.entries(result.outputs)) outputs[tensor] = tensorToJson(t);
    deps.logger.debug(
      { model: name, caller: caller.kind === 'device' ? caller.deviceId : 'admin' },
      'cloud inference',
    );
    return { model: name, version: result.version, engine: result.engine, outputs };
  });
}
