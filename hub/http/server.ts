import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { isOutpostError, OUTPOST_VERSION, OutpostError } from '../../shared/index.js';
import { tokensEqual } from '../secrets.js';
import { registerAgentRoutes } from './agents.js';
import { ARTIFACTS_PREFIX, registerArtifactRoutes } from './artifacts.js';
import type { HttpDeps } from './context.js';
import { registerDeviceControlRoutes } from './device-control.js';
import { registerDeviceLifecycleRoutes } from './device-lifecycle.js';
import { registerDeviceRoutes } from './devices.js';
import { registerEventRoutes, registerRescoreRoutes } from './events.js';
import { registerFederatedRoutes } from './federated.js';
import { FL_UPLOADS_PREFIX, registerFederatedUploadRoutes } from './federated-uploads.js';
import { registerHealthRoutes } from './health.js';
import { INFER_PREFIX, registerInferRoutes } from './infer.js';
import { registerModelRoutes } from './models.js';
import { registerModelPinRoutes } from './models-pins.js';
import { registerOpenApiRoute, trackRoutes } from './openapi.js';
import { registerRolloutRoutes } from './rollouts.js';

/** Path prefix of the admin API; every route under it needs the admin bearer token. */
export const ADMIN_PREFIX = '/v1/';

/**
 * Builds the hub's HTTP API (not yet listening). Errors always answer
 * `{error: {code, message}}` (docs/architecture.md "Conventions"); routes under `/v1/` require
 * `Authorization: Bearer <admin token>`, compared in constant time.
 */
export function buildHttpApi(deps: HttpDeps): FastifyInstance {
  // A request that reaches the hub while it shuts down (on a kept-alive connection) is
  // answered normally, with `Connection: close`: the store closes only after the HTTP server,
  // so it can still be served, and the client's next request finds the listener closed (a
  // refused connection, which callers retry) instead of fastify's generic
  // `503 Service Unavailable`, which a client cannot tell from a real failure.
  const app = Fastify({ logger: false, bodyLimit: deps.bodyLimitBytes, return503OnClosing: false });
  // Every route registered from here on, for the API description at /openapi.json.
  const routes = trackRoutes(app);
  // Hooks that must run before any other, e.g. the per-client rate limit.
  deps.firstHooks?.(app);

  app.addHook('onRequest', async (request) => {
    // The matched route's pattern, so an encoded path cannot slip past the prefix check.
    const route = request.routeOptions.url;
    if (!(route?.startsWith(ADMIN_PREFIX) || request.url.startsWith(ADMIN_PREFIX))) return;
    // Cloud inference authenticates devices (or the admin) itself (hub/http/infer.ts).
    if (route?.startsWith(INFER_PREFIX) && request.url.startsWith(INFER_PREFIX)) return;
    // So do artifact downloads (hub/http/artifacts.ts) and federated uploads.
    if (route?.startsWith(ARTIFACTS_PREFIX) && request.url.startsWith(ARTIFACTS_PREFIX)) return;
    if (route?.startsWith(FL_UPLOADS_PREFIX) && request.url.startsWith(FL_UPLOADS_PREFIX)) return;
    if (!hasAdminToken(request, deps.adminToken)) throw new OutpostError('HUB_UNAUTHORIZED');
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const outpost = toOutpostError(error);
    if (outpost.http >= 500) {
      deps.logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    } else {
      deps.logger.debug({ code: outpost.code, method: request.method, url: request.url }, outpost.message);
    }
    if (outpost.code === 'HUB_UNAUTHORIZED') {
      const url = request.routeOptions.url;
      const inferRoute = [INFER_PREFIX, ARTIFACTS_PREFIX, FL_UPLOADS_PREFIX].some(
        (prefix) => url?.startsWith(prefix) === true,
      );
      reply.header('www-authenticate', inferRoute ? 'Basic realm="outpost-devices", Bearer' : 'Bearer');
    }
    return reply.status(outpost.http).send(outpost.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new OutpostError(
      'HUB_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0]}`,
    );
    return reply.status(error.http).send(error.toBody());
  });

  registerOpenApiRoute(app, routes, OUTPOST_VERSION);
  registerHealthRoutes(app, deps);
  registerDeviceRoutes(app, deps);
  registerDeviceLifecycleRoutes(app, deps);
  registerDeviceControlRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerRescoreRoutes(app, deps);
  registerInferRoutes(app, deps);
  if (deps.rollouts) registerRolloutRoutes(app, deps.store, deps.rollouts);
  if (deps.federated) {
    registerFederatedRoutes(app, deps.store, deps.federated);
    registerFederatedUploadRoutes(app, deps, deps.federated.uploads);
  }
  if (deps.delivery) {
    registerModelRoutes(app, deps, deps.delivery.registry);
    registerModelPinRoutes(app, deps, deps.delivery.desired);
    registerArtifactRoutes(app, deps, deps.delivery.registry.artifacts, deps.federated?.weights);
    registerAgentRoutes(app, deps, deps.delivery.agents);
  }
  return app;
}

function hasAdminToken(request: FastifyRequest, expected: string): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return false;
  return tokensEqual(match[1] as string, expected);
}

/** Maps anything thrown in a route to an {@link OutpostError}, hiding internals of 5xx errors. */
function toOutpostError(error: FastifyError | Error): OutpostError {
  if (isOutpostError(error)) return error;
  const status = (error as FastifyError).statusCode;
  if (status === 413) return new OutpostError('PROTO_PAYLOAD_TOO_LARGE', error.message, { cause: error });
  if (status !== undefined && status >= 400 && status < 500) {
    return new OutpostError('HUB_BAD_REQUEST', error.message, { cause: error });
  }
  return new OutpostError('HUB_INTERNAL', undefined, { cause: error });
}
