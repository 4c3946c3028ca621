import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  BinEdgesSchema,
  DriftBaselineSchema,
  histogram,
  OutpostError,
  SemverSchema,
} from '../../shared/index.js';
import { parseRequest } from '../http/context.js';
import { createCallerAuth } from '../inference/device-auth.js';
import type { HubStore } from '../store/types.js';
import { quantileEdges } from './bins.js';
import type { DriftMonitor } from './monitor.js';

const ParamsSchema = z.strictObject({ model: z.string().min(1).max(64), version: SemverSchema });

/** Body of `PUT /v1/drift/baselines/:model/:version`: the baseline from summaries. */
export const SummariesBodySchema = z.strictObject({
  features: z.array(
    z.strictObject({ edges: BinEdgesSchema, counts: z.array(z.number().int().nonnegative()) }),
  ),
  classes: z.array(z.number().int().nonnegative()).default([]),
  elements: z.array(z.number().int().nonnegative()).optional(),
});

/**
 * Body of `POST /v1/drift/baselines/:model/:version/sample`: a reference sample, each row the
 * flattened input of one inference (only `elements` of it are features, default the first
 * `min(len, 256)`), with the predicted class of each row when known; `bins` per feature
 * (default 10).
 */
export const SampleBodySchema = z.strictObject({
  inputs: z.array(z.array(z.number())).min(10).max(100_000),
  classes: z.array(z.number().int().nonnegative().max(4095)).optional(),
  bins: z.number().int().min(2).max(64).default(10),
  elements: z.array(z.number().int().nonnegative()).min(1).max(256).optional(),
});

/** Prefix of routes devices call with their own credentials (not the admin token). */
export const DEVICE_DRIFT_PREFIX = '/device/v1/drift/';

/**
 * Drift routes, read from and written to the store (every replica answers the same). Admin: `GET /v1/drift` (every model version and the
 * alerts), `GET /v1/drift/alerts`, `GET /v1/drift/:model/:version` (with history),
 * `PUT /v1/drift/baselines/:model/:version` (from summaries), `POST …/sample` (from a
 * reference sample: quantile edges, then its counts). Devices (Basic auth) or admin:
 * `GET /device/v1/drift/edges/:model/:version` → `{elements, edges}`, 404 without a baseline.
 */
export function registerDriftRoutes(
  app: FastifyInstance,
  deps: {
    monitor: DriftMonitor;
    store: HubStore;
    adminToken: string;
    now: () => number;
  },
): void {
  const { monitor, store } = deps;
  app.get('/v1/drift', async () => {
    const [models, alerts] = await Promise.all([monitor.list(), monitor.alerts()]);
    return { models, alerts };
  });
  app.get('/v1/drift/alerts', async () => ({ alerts: await monitor.alerts() }));
  app.get('/v1/drift/:model/:version', async (request) => {
    const { model, version } = parseRequest(ParamsSchema, request.params, 'path');
    return monitor.status(model, version);
  });
  app.put('/v1/drift/baselines/:model/:version', async (request) => {
    const { model, version } = parseRequest(ParamsSchema, request.params, 'path');
    const body = parseRequest(SummariesBodySchema, request.body, 'baseline');
    const baseline = parseRequest(
      DriftBaselineSchema,
      { model, version, source: 'summaries', ...body, createdAt: deps.now() },
      'baseline',
    );
    await store.putDriftBaseline(baseline);
    return { baseline, status: await monitor.reevaluate(model, version) };
  });
  app.post('/v1/drift/baselines/:model/:version/sample', async (request) => {
    const { model, version } = parseRequest(ParamsSchema, request.params, 'path');
    const body = parseRequest(SampleBodySchema, request.body, 'reference sample');
    const width = Math.min(...body.inputs.map((r) => r.length));
    const elements = body.elements ?? Array.from({ length: Math.min(width, 256) }, (_, i) => i);
    const outside = elements.find((e) => e >= width);
    if (outside !== undefined)
      throw new OutpostError(
        'HUB_BAD_REQUEST',
        `elements: ${outside} is beyond the shortest row (${width} values)`,
      );
    if (body.classes !== undefined && body.classes.length !== body.inputs.length)
      throw new OutpostError(
        'HUB_BAD_REQUEST',
        `classes: ${body.classes.length} given for ${body.inputs.length} rows`,
      );
    const features = elements.map((e) => {
      const column = body.inputs.map((row) => row[e] as number);
      const edges = quantileEdges(column, body.bins);
      return { edges, counts: histogram(edges, column) };
    });
    const classes = new Array<number>(body.classes ? Math.max(...body.classes) + 1 : 0).fill(0);
    for (const c of body.classes ?? []) classes[c] = (classes[c] as number) + 1;
    const baseline = parseRequest(
      DriftBaselineSchema,
      { model, version, source: 'sample', features, classes, elements, createdAt: deps.now() },
      'baseline',
    );
    await store.putDriftBaseline(baseline);
    return { baseline, status: await monitor.reevaluate(model, version) };
  });

  const authenticate = createCallerAuth(deps.store, deps.adminToken);
  app.get(`${DEVICE_DRIFT_PREFIX}edges/:model/:version`, async (request) => {
    await authenticate(request);
    const { model, version } = parseRequest(ParamsSchema, request.params, 'path');
    const baseline = await store.getDriftBaseline(model, version);
    if (baseline === undefined)
      throw new OutpostError('HUB_NOT_FOUND', `no drift baseline for ${model}@${version}`);
    return {
      model,
      version,
      elements: baseline.elements ?? baseline.features.map((_, i) => i),
      edges: baseline.features.map((f) => f.edges),
      classes: baseline.classes.length,
    };
  });
}
