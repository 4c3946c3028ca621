import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { parseRequest } from '../http/context.js';
import { tokensEqual } from '../secrets.js';
import type { DashboardDeps } from './context.js';
import { devicePage } from './device-page.js';
import { driftListPage, driftPage } from './drift-page.js';
import { federatedPage } from './federated-page.js';
import { fleetPage } from './fleet-page.js';
import { page } from './html.js';
import { rolloutsPage } from './rollouts-page.js';

const REALM = 'Basic realm="Outpost dashboard (user: admin, password: the admin token)", charset="UTF-8"';

/**
 * True when the request carries the admin token: `Authorization: Bearer TOKEN`, or HTTP
 * Basic with any user name and the token as password (what a browser can send).
 */
export function isAdmin(request: FastifyRequest, adminToken: string): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return false;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return tokensEqual(bearer[1] as string, adminToken);
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!basic) return false;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && tokensEqual(decoded.slice(colon + 1), adminToken);
}

const DeviceParams = z.strictObject({ id: z.string().min(1).max(64) });
const DriftParams = z.strictObject({ model: z.string().min(1).max(64), version: z.string().min(1).max(64) });

/**
 * The web dashboard, server-side HTML with inline SVG charts and no
 * script: `/dashboard` (fleet), `/dashboard/devices/:id`, `/dashboard/rollouts`,
 * `/dashboard/federated`, `/dashboard/drift`, `/dashboard/drift/:model/:version`. Every page
 * needs the admin token, as Basic auth password (a browser asks for it; 401 carries
 * `WWW-Authenticate: Basic`) or bearer. Pages refresh themselves every 10 s.
 */
export function registerDashboardRoutes(
  app: FastifyInstance,
  deps: DashboardDeps & { adminToken: string },
): void {
  const html = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (isAdmin(request, deps.adminToken)) return;
      return reply
        .code(401)
        .header('www-authenticate', REALM)
        .type('text/html; charset=utf-8')
        .send(
          page(
            'Sign in',
            '<section>The dashboard needs the admin token (user <b>admin</b>, password: the token).</section>',
            0,
          ),
        );
    });
    scope.setErrorHandler((error, _request, reply) => {
      const status = error instanceof OutpostError ? error.http : 500;
      const message = error instanceof OutpostError ? error.message : 'internal error';
      if (status >= 500) app.log.error({ err: error }, 'dashboard page failed');
      return reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(page('Error', `<section>${message.replace(/[<>&]/g, '')}</section>`, 0));
    });
    scope.get('/dashboard', async (_q, reply) => html(reply, await fleetPage(deps)));
    scope.get('/dashboard/devices/:id', async (request, reply) => {
      const { id } = parseRequest(DeviceParams, request.params, 'path');
      return html(reply, await devicePage(deps, id));
    });
    scope.get('/dashboard/rollouts', async (_q, reply) =>
      html(reply, await rolloutsPage(deps.store, deps.now())),
    );
    scope.get('/dashboard/federated', async (_q, reply) =>
      html(reply, await federatedPage(deps.store, deps.now())),
    );
    scope.get('/dashboard/drift', async (_q, reply) => html(reply, await driftListPage(deps)));
    scope.get('/dashboard/drift/:model/:version', async (request, reply) => {
      const { model, version } = parseRequest(DriftParams, request.params, 'path');
      return html(reply, await driftPage(deps, model, version));
    });
  });
}
