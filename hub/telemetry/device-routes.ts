import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { parseRequest } from '../http/context.js';
import type { TelemetryStore } from '../store/telemetry-types.js';

const Params = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * Admin routes of device telemetry, read from the store (every replica answers the same):
 * `GET /v1/telemetry/devices` (latest report of every device that sent one) and
 * `GET /v1/devices/:id/telemetry` (latest report and history; 404 before its first report).
 */
export function registerDeviceTelemetryRoutes(app: FastifyInstance, store: TelemetryStore): void {
  app.get('/v1/telemetry/devices', async () => ({ devices: await store.listDeviceTelemetry() }));
  app.get('/v1/devices/:id/telemetry', async (request) => {
    const { id } = parseRequest(Params, request.params, 'path');
    const entry = await store.getDeviceTelemetry(id);
    if (entry === undefined) throw new OutpostError('HUB_NOT_FOUND', `no telemetry from device ${id} yet`);
    return entry;
  });
}
