import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeviceIdSchema, OutpostError } from '../../shared/index.js';
import { brokerHashes } from '../broker/broker-hashes.js';
import { generateSecret, hashSecret } from '../secrets.js';
import { assertDeviceIdNotReserved } from '../security/reserved-ids.js';
import { removedAt } from '../store/device-lifecycle-types.js';
import type { HubStore } from '../store/types.js';
import { type HttpDeps, parseRequest } from './context.js';
import { joinTokenFor } from './join-token.js';
import { deviceView, ledgerView } from './views.js';

/** Body of `POST /v1/devices`; every field optional (an empty body enrolls with a new id). */
export const EnrollRequestSchema = z.strictObject({
  id: DeviceIdSchema.optional(),
  name: z.string().min(1).max(256).optional(),
  labels: z.record(z.string().min(1).max(64), z.string().max(256)).optional(),
});

/** `:id` of the device routes. */
export const DeviceParamsSchema = z.strictObject({ id: z.string() });

/**
 * Loads a device or throws `HUB_DEVICE_NOT_FOUND`; a removed device whose data was kept is
 * found only by the routes that read that data (`removed: 'found'`).
 */
export async function requireDevice(store: HubStore, id: string, options: { removed?: 'found' } = {}) {
  const device = await store.getDevice(id);
  if (device === undefined) throw new OutpostError('HUB_DEVICE_NOT_FOUND', `no device ${id}`);
  if (options.removed !== 'found' && removedAt(device.secretHash) !== null)
    throw new OutpostError(
      'HUB_DEVICE_NOT_FOUND',
      `device ${id} was removed; its data is kept (DELETE /v1/devices/${id}?purge=true deletes it)`,
    );
  return device;
}

/**
 * - `POST /v1/devices` `{id?, name?, labels?}` → 201 `{id, secret, mqtt: {url, wsUrl}, joinToken}`;
 *   the secret (also inside the join token, with the hub's public URLs, signing keys and TLS CA)
 *   is shown this once and stored only as an scrypt hash; 409 `HUB_DEVICE_EXISTS`;
 *   400 `HUB_DEVICE_ID_RESERVED` for an id the hub or broker use themselves.
 * - `GET /v1/devices` → `{devices: DeviceView[]}`.
 * - `GET /v1/devices/:id` → `DeviceView & {desired: DesiredState | null, ledger: LedgerView}`
 *   (the loss ledger).
 */
export function registerDeviceRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { store } = deps;

  app.post('/v1/devices', async (request, reply) => {
    const body = parseRequest(EnrollRequestSchema, request.body ?? {}, 'enrollment request');
    const id = body.id ?? `dev-${randomBytes(8).toString('hex')}`;
    assertDeviceIdNotReserved(id, deps.hubBrokerUsername, { natsBroker: deps.natsBroker });
    const secret = generateSecret();
    const device = await store.createDevice({
      id,
      name: body.name,
      labels: body.labels,
      secretHash: await hashSecret(secret),
      createdAt: deps.now(),
    });
    // The same secret as an external broker checks it (Mosquitto password file, NATS users).
    await store.putBrokerHash(device.id, await brokerHashes(secret));
    await deps.onEnrolled?.(device.id);
    deps.logger.info({ deviceId: device.id }, 'device enrolled');
    const { wsUrl, publicMqttUrl } = deps.endpoints();
    const joinToken = await joinTokenFor(deps, device.id, secret);
    return reply.status(201).send({ id: device.id, secret, mqtt: { url: publicMqttUrl, wsUrl }, joinToken });
  });

  app.get('/v1/devices', async () => {
    const [devices, desired] = await Promise.all([store.listDevices(), store.listDesired()]);
    const byDevice = new Map(desired.map((d) => [d.deviceId, d.desired]));
    return {
      devices: devices.map((device) =>
        deviceView(device, byDevice.get(device.id), deps.clientIdConflicts?.(device.id)),
      ),
    };
  });

  app.get('/v1/devices/:id', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const device = await requireDevice(store, id, { removed: 'found' });
    const [desired, skips] = await Promise.all([store.getDesired(id), store.skipTotals(id)]);
    return {
      ...deviceView(device, desired, deps.clientIdConflicts?.(id)),
      desired: desired ?? null,
      ledger: ledgerView(device, skips),
    };
  });
}
