import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_CATALOG, type RouteAuth, type RouteDoc } from './api-catalog.js';

/** A route as fastify registered it: `GET`, `/v1/devices/:id`. */
export interface RegisteredRoute {
  method: string;
  url: string;
}

/**
 * Records every route registered on `app` from now on (fastify's `onRoute` hook), so the API
 * description is built from the routes the hub really serves. HEAD routes fastify adds for
 * each GET are left out unless the catalog lists them.
 */
export function trackRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (options) => {
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    for (const method of methods) {
      const key = `${method} ${options.url}`;
      if (method === 'HEAD' && API_CATALOG[key] === undefined) continue;
      if (!routes.some((r) => r.method === method && r.url === options.url))
        routes.push({ method, url: options.url });
    }
  });
  return routes;
}

const UNDOCUMENTED: RouteDoc = {
  tag: 'undocumented',
  auth: 'admin',
  summary: 'not in hub/http/api-catalog.ts',
};

/** Routes served without a catalog entry, and catalog entries no route serves. */
export function catalogDrift(routes: readonly RegisteredRoute[]): {
  undocumented: string[];
  unserved: string[];
} {
  const served = new Set(routes.map((r) => `${r.method} ${r.url}`));
  return {
    undocumented: [...served].filter((key) => API_CATALOG[key] === undefined).sort(),
    unserved: Object.keys(API_CATALOG)
      .filter((key) => !served.has(key))
      .sort(),
  };
}

const SECURITY: Record<RouteAuth, unknown[]> = {
  none: [],
  admin: [{ adminToken: [] }],
  device: [{ deviceBasic: [] }, { deviceCertificate: [] }, { adminToken: [] }],
};

const ERROR_BODY = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

function parameters(url: string, doc: RouteDoc): unknown[] {
  const path = [...url.matchAll(/:(\w+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (doc.query === undefined) return path;
  const query = jsonSchema(doc.query) as { properties?: Record<string, unknown>; required?: string[] };
  const fromQuery = Object.entries(query.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: query.required?.includes(name) ?? false,
    schema,
  }));
  return [...path, ...fromQuery];
}

function operation(route: RegisteredRoute, doc: RouteDoc): Record<string, unknown> {
  const op: Record<string, unknown> = {
    summary: doc.summary,
    tags: [doc.tag],
    security: SECURITY[doc.auth],
    responses: {
      '2XX': { description: 'success' },
      default: { description: 'error', content: { 'application/json': { schema: ERROR_BODY } } },
    },
  };
  const params = parameters(route.url, doc);
  if (params.length > 0) op.parameters = params;
  if (doc.body !== undefined) {
    op.requestBody = { content: { 'application/json': { schema: jsonSchema(doc.body) } } };
  } else if (doc.rawBody !== undefined) {
    op.requestBody = {
      required: true,
      content: { [doc.rawBody]: { schema: { type: 'string', format: 'binary' } } },
    };
  }
  return op;
}

/** The OpenAPI 3.1 description of the routes a hub serves, from the catalog's zod schemas. */
export function openApiDocument(
  routes: readonly RegisteredRoute[],
  version: string,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    // A route missing from the catalog is still described, tagged so that it shows.
    const doc = API_CATALOG[`${route.method} ${route.url}`] ?? UNDOCUMENTED;
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route, doc);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Outpost hub', version },
    components: {
      securitySchemes: {
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'the admin token ({dataDir}/admin-token)',
        },
        deviceBasic: { type: 'http', scheme: 'basic', description: 'device id and secret' },
        deviceCertificate: { type: 'mutualTLS', description: 'device client certificate, CN = device id' },
      },
    },
    paths,
  };
}

/** `GET /openapi.json` (no auth): the description of the routes this hub serves. */
export function registerOpenApiRoute(
  app: FastifyInstance,
  routes: readonly RegisteredRoute[],
  version: string,
) {
  let cached: Record<string, unknown> | undefined;
  app.get('/openapi.json', async () => {
    cached ??= openApiDocument(routes, version);
    return cached;
  });
}
