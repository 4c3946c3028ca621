import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { brokerHashes } from '../broker/broker-hashes.js';
import { generateSecret, hashSecret } from '../secrets.js';
import { DISABLED_PREFIX } from '../store/device-lifecycle-types.js';
import { type HttpDeps, parseRequest } from './context.js';
import { DeviceParamsSchema, requireDevice } from './devices.js';
import { joinTokenFor } from './join-token.js';

/** Query of `DELETE /v1/devices/:id`: `purge=true` deletes the device's data too. */
export const RemoveQuerySchema = z.strictObject({ purge: z.enum(['true', 'false']).optional() });

/** Whether a device is disabled (its credentials carry the disabled mark). */
export const isDisabled = (secretHash: string): boolean => secretHash.startsWith(DISABLED_PREFIX);

/**
 * Device lifecycle, each rewriting an external broker's auth files (`broker.authDir`) and
 * cutting the device's live connection at once (the embedded broker closes it; on an external
 * one the hub takes the device's client id over, see `evictMqttSession`):
 * - `POST /v1/devices/:id/disable` → `{id, disabled: true}`: refused at every connect, data kept.
 * - `POST /v1/devices/:id/enable` → `{id, disabled: false}`: the same secret works again.
 * - `POST /v1/devices/:id/rotate-secret` → `{id, secret, joinToken}`: the old secret stops working.
 * - `DELETE /v1/devices/:id[?purge=true]` → 204: the device leaves the fleet, its credentials
 *   and desired state are deleted; its events, loss ledger and reported state are kept
 *   (readable by id) unless `purge=true` deletes them too (see `removeDevice`).
 */
export function registerDeviceLifecycleRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { store } = deps;
  const cut = async (id: string, why: string) => {
    await deps.onCredentialsChanged?.();
    try {
      await deps.disconnectDevice?.(id);
    } catch (err) {
      // The change itself is stored; the broker refuses the device at its next reload.
      deps.logger.error({ err, deviceId: id }, `device ${why}; cutting its live connection failed`);
      return;
    }
    deps.logger.warn({ deviceId: id }, `device ${why}; its connection was cut`);
  };
  const setMark = async (id: string, disabled: boolean) => {
    const device = await requireDevice(store, id);
    const broker = (await store.listBrokerHashes()).find((b) => b.deviceId === id)?.hash ?? '';
    const strip = (h: string) => (isDisabled(h) ? h.slice(DISABLED_PREFIX.length) : h);
    const mark = (h: string) => (disabled ? `${DISABLED_PREFIX}${strip(h)}` : strip(h));
    await store.updateCredentials(id, mark(device.secretHash), mark(broker));
  };

  app.post('/v1/devices/:id/disable', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    await setMark(id, true);
    await cut(id, 'disabled');
    return { id, disabled: true };
  });

  app.post('/v1/devices/:id/enable', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    await setMark(id, false);
    await deps.onCredentialsChanged?.();
    deps.logger.info({ deviceId: id }, 'device enabled');
    return { id, disabled: false };
  });

  app.post('/v1/devices/:id/rotate-secret', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    await requireDevice(store, id);
    const secret = generateSecret();
    await store.updateCredentials(id, await hashSecret(secret), await brokerHashes(secret));
    await cut(id, 'secret rotated');
    const joinToken = await joinTokenFor(deps, id, secret);
    return { id, secret, joinToken };
  });

  app.delete('/v1/devices/:id', async (request, reply) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const { purge } = parseRequest(RemoveQuerySchema, request.query, 'query');
    if (!(await store.removeDevice(id, { purge: purge === 'true', at: Date.now() }))) {
      const kept = (await store.getDevice(id)) !== undefined;
      throw new OutpostError(
        'HUB_DEVICE_NOT_FOUND',
        kept
          ? `device ${id} was already removed; its data is kept (purge=true deletes it)`
          : `no device ${id}`,
      );
    }
    await cut(id, purge === 'true' ? 'removed with its data' : 'removed (its data kept)');
    return reply.status(204).send();
  });
}
