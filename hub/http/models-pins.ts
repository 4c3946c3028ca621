import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ManifestSchema, OutpostError, SemverSchema } from '../../shared/index.js';
import type { DesiredService } from '../desired/desired-service.js';
import { type HttpDeps, parseRequest } from './context.js';
import { requireDevice } from './devices.js';

const ParamsSchema = z.strictObject({ id: z.string(), name: ManifestSchema.shape.name });

/** Body of `PUT /v1/devices/:id/models/:name`. */
export const PinRequestSchema = z.strictObject({
  version: SemverSchema,
  shadow: SemverSchema.optional(),
  allowDowngrade: z.boolean().optional(),
  rollout: z.string().min(1).max(128).optional(),
});

/**
 * Pins of one model on one device through the desired-state service:
 * - `PUT /v1/devices/:id/models/:name` `{version, shadow?, allowDowngrade?, rollout?}` →
 *   the new `DesiredState` (published retained); 404 `HUB_DEVICE_NOT_FOUND` / `HUB_MODEL_NOT_FOUND`.
 * - `DELETE /v1/devices/:id/models/:name` → the `DesiredState` without it (no new rev when
 *   it had none); 404 when the device has no desired state at all.
 */
export function registerModelPinRoutes(app: FastifyInstance, deps: HttpDeps, desired: DesiredService): void {
  app.put('/v1/devices/:id/models/:name', async (request) => {
    const { id, name } = parseRequest(ParamsSchema, request.params, 'path');
    const body = parseRequest(PinRequestSchema, request.body, 'model pin');
    await requireDevice(deps.store, id);
    return desired.setModel(id, { name, ...body });
  });

  app.delete('/v1/devices/:id/models/:name', async (request) => {
    const { id, name } = parseRequest(ParamsSchema, request.params, 'path');
    await requireDevice(deps.store, id);
    const doc = await desired.clearModel(id, name);
    if (doc === undefined) throw new OutpostError('HUB_NOT_FOUND', `device ${id} has no desired state yet`);
    return doc;
  });
}
