import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { parseRequest } from '../http/context.js';
import type { DeviceTelemetryBook } from './device-book.js';

const Params = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * Admin routes of device telemetry: `GET /v1/telemetry/devices` (latest
 * report of every device that sent one) and `GET /v1/devices/:id/telemetry` (latest report
 * and history; 404 before its first report).
 */
export function registerDeviceTelemetryRoutes(app: FastifyInstance, book: DeviceTelemetryBook): void {
  app.get('/v1/telemetry/devices', async () => ({
    devices: book.list().map(({ deviceId, receivedAt, latest }) => ({ deviceId, receivedAt, latest })),
  }));
  app.get('/v1/devices/:id/telemetry', async (request) => {
    const { id } = parseRequest(Params, request.params, 'path');
    const entry = book.get(id);
    if (entry === undefined) throw new OutpostError('HUB_NOT_FOUND', `no telemetry from device ${id} yet`);
    return entry;
  });
}
