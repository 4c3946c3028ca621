import type { z } from 'zod';
import { RolloutRequestSchema } from '../../shared/index.js';
import { SampleBodySchema, SummariesBodySchema } from '../drift/routes.js';
import { FlTaskSpecSchema } from '../federated/task-spec.js';
import { AgentDeleteQuerySchema, AgentPushQuerySchema } from './agents.js';
import { CommandRequestSchema, PutDesiredRequestSchema } from './device-control.js';
import { RemoveQuerySchema } from './device-lifecycle.js';
import { EnrollRequestSchema } from './devices.js';
import { EventsQuerySchema, RescoresQuerySchema } from './events.js';
import { WeightsQuery } from './federated.js';
import { CloudInferRequestSchema } from './infer.js';
import { PushQuerySchema } from './models.js';
import { PinRequestSchema } from './models-pins.js';
import { MetricsQuerySchema, ReasonSchema } from './rollouts.js';

/** Who may call a route: nobody in particular, the admin bearer token, or a device (or the admin). */
export type RouteAuth = 'none' | 'admin' | 'device';

/** What the API reference says of one route; the zod schemas are the ones the handler parses with. */
export interface RouteDoc {
  summary: string;
  auth: RouteAuth;
  /** Area the route belongs to (the OpenAPI tag). */
  tag: string;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Body that is not JSON (an artifact upload), by media type. */
  rawBody?: string;
}

/**
 * Every HTTP route of the hub, keyed `METHOD url` exactly as registered with fastify. The test
 * `test/hub/openapi.test.ts` starts a hub with every part and fails on a route registered
 * without an entry here, or an entry without a route, so the reference cannot drift.
 */
export const API_CATALOG: Record<string, RouteDoc> = {
  'GET /healthz': { tag: 'health', auth: 'none', summary: 'Liveness: broker clients and store kind' },
  'GET /metrics': { tag: 'health', auth: 'none', summary: 'Prometheus metrics of this hub process' },
  'GET /openapi.json': { tag: 'health', auth: 'none', summary: 'This API description (OpenAPI 3.1)' },
  'GET /readyz': {
    tag: 'health',
    auth: 'none',
    summary: 'Readiness: 200 when store and broker answer, 503 naming the part',
  },
  'GET /v1/stats': {
    tag: 'health',
    auth: 'admin',
    summary: 'Ingest, ping and rejection counters; events and devices',
  },

  'POST /v1/devices': {
    tag: 'devices',
    auth: 'admin',
    body: EnrollRequestSchema,
    summary: 'Enroll a device: 201 {id, secret, mqtt}; the secret is shown this once',
  },
  'GET /v1/devices': {
    tag: 'devices',
    auth: 'admin',
    summary: 'Devices with online state, last seen, revisions',
  },
  'GET /v1/devices/:id': {
    tag: 'devices',
    auth: 'admin',
    summary: 'One device, its desired state and loss ledger',
  },
  'POST /v1/devices/:id/disable': {
    tag: 'devices',
    auth: 'admin',
    summary: 'Disable a device: its connection is cut, every connect refused, data kept',
  },
  'POST /v1/devices/:id/enable': { tag: 'devices', auth: 'admin', summary: 'Enable a disabled device again' },
  'POST /v1/devices/:id/rotate-secret': {
    tag: 'devices',
    auth: 'admin',
    summary: 'A new secret and join token; the old secret stops working at once',
  },
  'DELETE /v1/devices/:id': {
    tag: 'devices',
    auth: 'admin',
    query: RemoveQuerySchema,
    summary: 'Remove a device; its connection is cut, its data kept unless purge=true',
  },
  'GET /v1/devices/:id/desired': { tag: 'devices', auth: 'admin', summary: 'The desired state of a device' },
  'PUT /v1/devices/:id/desired': {
    tag: 'devices',
    auth: 'admin',
    body: PutDesiredRequestSchema,
    summary: 'Set the config section of the desired state; a new revision, published retained',
  },
  'POST /v1/devices/:id/commands': {
    tag: 'devices',
    auth: 'admin',
    body: CommandRequestSchema,
    summary: 'Queue a command for a device: 202 {id}',
  },
  'GET /v1/devices/:id/events': {
    tag: 'devices',
    auth: 'admin',
    query: EventsQuerySchema,
    summary: 'Ingested events in (epoch, lane, seq) order; `next` is the cursor',
  },
  'GET /v1/devices/:id/rescores': {
    tag: 'inference',
    auth: 'admin',
    query: RescoresQuerySchema,
    summary: "The hub model's answers to inputs the device queued for re-scoring",
  },
  'GET /v1/devices/:id/telemetry': { tag: 'operations', auth: 'admin', summary: 'Latest device telemetry' },
  'GET /v1/telemetry/devices': {
    tag: 'operations',
    auth: 'admin',
    summary: 'Latest telemetry of every device',
  },
  'PUT /v1/devices/:id/models/:name': {
    tag: 'registry',
    auth: 'admin',
    body: PinRequestSchema,
    summary: 'Pin a model version on a device (desired state models section)',
  },
  'DELETE /v1/devices/:id/models/:name': { tag: 'registry', auth: 'admin', summary: 'Remove a model pin' },

  'GET /v1/infer': {
    tag: 'inference',
    auth: 'admin',
    summary: "The hub's models with engine and rejections",
  },
  'POST /v1/infer/:name': {
    tag: 'inference',
    auth: 'device',
    body: CloudInferRequestSchema,
    summary: 'Cloud inference; 400 INFER_BAD_INPUT names the tensor',
  },

  'GET /v1/models': { tag: 'registry', auth: 'admin', summary: 'Every registered version' },
  'GET /v1/models/:name': { tag: 'registry', auth: 'admin', summary: 'The versions of one model' },
  'POST /v1/models/:name/versions/:version': {
    tag: 'registry',
    auth: 'admin',
    query: PushQuerySchema,
    rawBody: 'application/octet-stream',
    summary: 'Push a version (artifact bytes as the body); the hub signs its manifest',
  },
  'GET /v1/models/:name/versions/:version': {
    tag: 'registry',
    auth: 'admin',
    summary: 'One version with manifests',
  },
  'DELETE /v1/models/:name/versions/:version': {
    tag: 'registry',
    auth: 'admin',
    summary: 'Delete a version; 409 HUB_MODEL_IN_USE while referenced',
  },
  'GET /v1/keys': { tag: 'registry', auth: 'admin', summary: "The hub's signing keys, current and retired" },
  'POST /v1/agents/releases': {
    tag: 'registry',
    auth: 'admin',
    query: AgentPushQuerySchema,
    summary: 'Push an agent bundle (application/octet-stream); the hub signs its manifest',
  },
  'GET /v1/agents/releases': {
    tag: 'registry',
    auth: 'admin',
    summary: 'Agent releases: bundles per platform, devices running each',
  },
  'GET /v1/agents/releases/:version': {
    tag: 'registry',
    auth: 'admin',
    summary: 'One agent release with its signed manifests',
  },
  'DELETE /v1/agents/releases/:version': {
    tag: 'registry',
    auth: 'admin',
    query: AgentDeleteQuerySchema,
    summary: 'Delete an agent release; 409 HUB_AGENT_BUNDLE_IN_USE while referenced',
  },
  'POST /v1/keys/rotate': { tag: 'registry', auth: 'admin', summary: 'Rotate the signing key' },
  'GET /v1/artifacts/:sha256': {
    tag: 'registry',
    auth: 'device',
    summary: 'Download an artifact (Range, ETag, If-Range, If-None-Match)',
  },
  'HEAD /v1/artifacts/:sha256': { tag: 'registry', auth: 'device', summary: 'Size and ETag of an artifact' },

  'POST /v1/rollouts': {
    tag: 'rollouts',
    auth: 'admin',
    body: RolloutRequestSchema,
    summary: 'Start a rollout',
  },
  'GET /v1/rollouts': { tag: 'rollouts', auth: 'admin', summary: 'Every rollout' },
  'GET /v1/rollouts/:id': {
    tag: 'rollouts',
    auth: 'admin',
    summary: 'Status: stage, gates, arms, devices, timeline',
  },
  'POST /v1/rollouts/:id/pause': {
    tag: 'rollouts',
    auth: 'admin',
    body: ReasonSchema,
    summary: 'Pause a rollout',
  },
  'POST /v1/rollouts/:id/resume': {
    tag: 'rollouts',
    auth: 'admin',
    body: ReasonSchema,
    summary: 'Resume a rollout',
  },
  'POST /v1/rollouts/:id/abort': {
    tag: 'rollouts',
    auth: 'admin',
    body: ReasonSchema,
    summary: 'Abort a rollout',
  },
  'POST /v1/rollouts/:id/rollback': {
    tag: 'rollouts',
    auth: 'admin',
    body: ReasonSchema,
    summary: 'Roll back every device that got the version',
  },
  'GET /v1/model-metrics': {
    tag: 'rollouts',
    auth: 'admin',
    query: MetricsQuerySchema,
    summary: 'Per-device model metrics folded from telemetry',
  },

  'POST /v1/federated/tasks': {
    tag: 'federated',
    auth: 'admin',
    body: FlTaskSpecSchema,
    summary: 'Start a task',
  },
  'GET /v1/federated/tasks': { tag: 'federated', auth: 'admin', summary: 'Every federated task' },
  'GET /v1/federated/tasks/:id': { tag: 'federated', auth: 'admin', summary: 'A task with its rounds' },
  'GET /v1/federated/tasks/:id/rounds': {
    tag: 'federated',
    auth: 'admin',
    summary: 'Rounds: selection, status, metrics, every update',
  },
  'GET /v1/federated/tasks/:id/weights': {
    tag: 'federated',
    auth: 'admin',
    query: WeightsQuery,
    summary: 'Global weights a round starts from',
  },
  'POST /v1/federated/tasks/:id/stop': { tag: 'federated', auth: 'admin', summary: 'Stop a task' },
  'HEAD /v1/federated/uploads/:task/:round': {
    tag: 'federated',
    auth: 'device',
    summary: "Where the calling device's update upload stands (devices only; Upload-Offset, Upload-Sha256)",
  },
  'PATCH /v1/federated/uploads/:task/:round': {
    tag: 'federated',
    auth: 'device',
    rawBody: 'application/offset+octet-stream',
    summary: "One part of the calling device's update (devices only; Upload-Offset, -Length, -Sha256)",
  },

  'GET /v1/drift': {
    tag: 'operations',
    auth: 'admin',
    summary: 'Drift of every model version and the alerts',
  },
  'GET /v1/drift/alerts': { tag: 'operations', auth: 'admin', summary: 'Drift alerts' },
  'GET /v1/drift/:model/:version': {
    tag: 'operations',
    auth: 'admin',
    summary: 'Drift of one model version',
  },
  'PUT /v1/drift/baselines/:model/:version': {
    tag: 'operations',
    auth: 'admin',
    body: SummariesBodySchema,
    summary: 'Set a drift baseline from summaries',
  },
  'POST /v1/drift/baselines/:model/:version/sample': {
    tag: 'operations',
    auth: 'admin',
    body: SampleBodySchema,
    summary: 'Set a drift baseline from a reference sample',
  },
  'GET /device/v1/drift/edges/:model/:version': {
    tag: 'operations',
    auth: 'device',
    summary: 'Bin edges a device summarises its inputs over',
  },

  'GET /dashboard': {
    tag: 'dashboard',
    auth: 'admin',
    summary: 'Fleet page (HTML; Basic auth with the token)',
  },
  'GET /dashboard/devices/:id': { tag: 'dashboard', auth: 'admin', summary: 'Device page (HTML)' },
  'GET /dashboard/rollouts': { tag: 'dashboard', auth: 'admin', summary: 'Rollouts page (HTML)' },
  'GET /dashboard/federated': { tag: 'dashboard', auth: 'admin', summary: 'Federated page (HTML)' },
  'GET /dashboard/drift': { tag: 'dashboard', auth: 'admin', summary: 'Drift page (HTML)' },
  'GET /dashboard/drift/:model/:version': {
    tag: 'dashboard',
    auth: 'admin',
    summary: 'Drift of one version (HTML)',
  },
};
