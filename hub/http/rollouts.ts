import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RolloutRequestSchema } from '../../shared/index.js';
import type { RolloutService } from '../rollouts/service.js';
import type { HubStore } from '../store/types.js';
import { parseRequest } from './context.js';

const IdSchema = z.strictObject({ id: z.string().regex(/^r-[0-9a-f]{12}$/, 'not a rollout id (r-…)') });
export const ReasonSchema = z.strictObject({ reason: z.string().min(1).max(512).optional() }).optional();
export const MetricsQuerySchema = z.strictObject({
  model: z.string().min(1).max(128).optional(),
  device: z.string().min(1).max(64).optional(),
  rollout: z.string().max(64).optional(),
});

/**
 * Rollouts admin API:
 * - `POST /v1/rollouts` `RolloutRequest` → 201 the rollout; 400 naming every bad field (an
 *   unknown gate metric lists the known ones), 404 `HUB_MODEL_NOT_FOUND`, 409 `HUB_ROLLOUT_CONFLICT`
 *   when the model already has a live rollout;
 * - `GET /v1/rollouts`, `GET /v1/rollouts/:id` (status: stage, gates, arms side by side, devices, timeline);
 * - `POST /v1/rollouts/:id/{pause|resume|abort|rollback}` `{reason?}` → the rollout; 409 from a wrong state;
 * - `GET /v1/model-metrics?model=&device=&rollout=` the aggregated per-device counters.
 */
export function registerRolloutRoutes(app: FastifyInstance, store: HubStore, rollouts: RolloutService): void {
  app.post('/v1/rollouts', async (request, reply) => {
    const body = parseRequest(RolloutRequestSchema, request.body, 'rollout');
    return reply.status(201).send(await rollouts.create(body));
  });
  app.get('/v1/rollouts', async () => ({ rollouts: await rollouts.list() }));
  app.get('/v1/rollouts/:id', async (request) => {
    const { id } = parseRequest(IdSchema, request.params, 'path');
    return rollouts.status(id);
  });
  for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
    app.post(`/v1/rollouts/:id/${action}`, async (request) => {
      const { id } = parseRequest(IdSchema, request.params, 'path');
      const reason = parseRequest(ReasonSchema, request.body ?? undefined, `${action} body`)?.reason;
      if (action === 'pause') return rollouts.pause(id);
      if (action === 'resume') return rollouts.resume(id);
      return action === 'abort' ? rollouts.abort(id, reason) : rollouts.rollback(id, reason);
    });
  }
  app.get('/v1/model-metrics', async (request) => {
    const q = parseRequest(MetricsQuerySchema, request.query, 'query');
    const rows = await store.modelCounters({
      ...(q.model !== undefined ? { model: q.model } : {}),
      ...(q.device !== undefined ? { deviceId: q.device } : {}),
      ...(q.rollout !== undefined ? { rolloutId: q.rollout } : {}),
    });
    return { rows };
  });
}
