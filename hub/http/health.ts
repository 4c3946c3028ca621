import type { FastifyInstance } from 'fastify';
import { OUTPOST_VERSION } from '../../shared/index.js';
import type { HttpDeps } from './context.js';

/**
 * `GET /healthz` (no auth) → `{ok: true, version, broker: {clients}, store}` (clients null on NATS);
 * `GET /readyz` (no auth) → 200 `{ready: true, version, store: true, broker: true}` once the store
 * answers a query and the broker is reachable, else 503 with the failing part `false`;
 * `GET /v1/stats` → hub counters plus `events: {total}` and `devices: {total, online}`.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/healthz', async () => ({
    ok: true,
    version: OUTPOST_VERSION,
    broker: { clients: deps.bus.clientCount() },
    store: deps.store.kind,
  }));

  app.get('/readyz', async (_request, reply) => {
    const broker = deps.bus.connected?.() ?? true;
    let store = false;
    try {
      await deps.store.countEvents();
      store = true;
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'readiness: the store does not answer');
    }
    const ready = store && broker;
    return reply.code(ready ? 200 : 503).send({ ready, version: OUTPOST_VERSION, store, broker });
  });

  app.get('/v1/stats', async () => {
    const devices = await deps.store.listDevices();
    return {
      ...deps.stats(),
      events: { total: await deps.store.countEvents() },
      devices: { total: devices.length, online: devices.filter((d) => d.online).length },
    };
  });
}
