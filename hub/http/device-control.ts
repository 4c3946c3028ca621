import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CommandNameSchema, OutpostError, RemoteConfigSchema } from '../../shared/index.js';
import { publishCommand, publishDesired } from '../protocol/downlink.js';
import { type HttpDeps, parseRequest } from './context.js';
import { DeviceParamsSchema, requireDevice } from './devices.js';

/** Body of `PUT /v1/devices/:id/desired`. */
export const PutDesiredRequestSchema = z.strictObject({ config: RemoteConfigSchema });

/** Body of `POST /v1/devices/:id/commands`. */
export const CommandRequestSchema = z.strictObject({
  name: CommandNameSchema,
  args: z.record(z.string(), z.unknown()).optional(),
});

/**
 * - `PUT /v1/devices/:id/desired` `{config}` → the new `DesiredState` (rev + 1), stored and
 *   then published retained, QoS 1, on `…/desired`.
 * - `GET /v1/devices/:id/desired` → the latest `DesiredState`; 404 `HUB_NOT_FOUND` when none.
 * - `POST /v1/devices/:id/commands` `{name, args?}` → 202 `{id}` once published on `…/cmd`.
 */
export function registerDeviceControlRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { store, bus } = deps;

  app.put('/v1/devices/:id/desired', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const body = parseRequest(PutDesiredRequestSchema, request.body, 'desired state request');
    const desired = await store.putDesired(id, body.config, deps.now());
    await publishDesired(bus, id, desired);
    deps.logger.info({ deviceId: id, rev: desired.rev }, 'desired state published');
    return desired;
  });

  app.get('/v1/devices/:id/desired', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    await requireDevice(store, id);
    const desired = await store.getDesired(id);
    if (desired === undefined)
      throw new OutpostError('HUB_NOT_FOUND', `device ${id} has no desired state yet`);
    return desired;
  });

  app.post('/v1/devices/:id/commands', async (request, reply) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const body = parseRequest(CommandRequestSchema, request.body, 'command request');
    await requireDevice(store, id);
    const command = await publishCommand(bus, id, body.name, body.args ?? {}, deps.now());
    deps.logger.info({ deviceId: id, commandId: command.id, name: command.name }, 'command sent');
    return reply.status(202).send({ id: command.id });
  });
}
