import type { FastifyInstance } from 'fastify';
import { OUTPOST_VERSION } from '../../shared/index.js';
import type { HttpDeps } from './context.js';

/**
 * `GET /healthz` (no auth) → `{ok: true, version, broker: {clients}, store}`;
 * `GET /v1/stats` → hub counters plus `events: {total}` and `devices: {total, online}`.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/healthz', async () => ({
    ok: true,
    version: OUTPOST_VERSION,
    broker: { clients: deps.bus.clientCount() },
    store: deps.store.kind,
  }));

  app.get('/v1/stats', async () => {
    const devices = await deps.store.listDevices();
    return {
      ...deps.stats(),
      events: { total: await deps.store.countEvents() },
      devices: { total: devices.length, online: devices.filter((d) => d.online).length },
    };
  });
}
