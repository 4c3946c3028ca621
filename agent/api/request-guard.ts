import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OutpostError } from '../../shared/index.js';

/** Who may call the local API (config `api`). */
export interface ApiAccess {
  /** Bearer token every request must carry; absent = none asked. */
  token?: string;
  /** Host names (besides IP literals and `localhost`) requests may name in `Host`. */
  allowedHosts?: readonly string[];
  /** Origins (`scheme://host[:port]`, besides loopback ones) whose pages may call the API. */
  allowedOrigins?: readonly string[];
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether `address` is a loopback bind address (the only kind safe without a token). */
export function isLoopbackHost(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  return hostHeader.split(':')[0]?.toLowerCase() ?? '';
}

function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Refuses, before any route runs:
 * - a `Host` that is neither an IP literal, `localhost`, nor in `allowedHosts` (DNS
 *   rebinding: a foreign page whose name now resolves to this device still sends its own
 *   name) → 403 `AGENT_FORBIDDEN`;
 * - an `Origin` that is neither loopback nor in `allowedOrigins` (a foreign page's request;
 *   a browser always sends it on cross-origin requests and POSTs) → 403 `AGENT_FORBIDDEN`;
 * - with `token`, a request without `Authorization: Bearer <token>` → 401 `AGENT_UNAUTHORIZED`
 *   (compared in constant time).
 */
export function installRequestGuard(app: FastifyInstance, access: ApiAccess): void {
  const hosts = new Set((access.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const origins = new Set((access.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, '')));
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const host = hostnameOf(request.headers.host ?? '');
    const bare = host.replace(/^\[|\]$/g, '');
    if (!(LOOPBACK_NAMES.has(host) || isIP(bare) !== 0 || hosts.has(host))) {
      throw new OutpostError(
        'AGENT_FORBIDDEN',
        `Host "${host}" is not this agent (add it to api.allowedHosts)`,
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined) {
      let allowed = origins.has(origin.toLowerCase());
      if (!allowed) {
        try {
          allowed = isLoopbackHost(new URL(origin).hostname);
        } catch {
          allowed = false;
        }
      }
      if (!allowed) {
        throw new OutpostError(
          'AGENT_FORBIDDEN',
          `Origin "${origin}" may not call this agent (api.allowedOrigins)`,
        );
      }
    }
    if (access.token !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      if (bearer === null || !tokenMatches(bearer[1] as string, access.token)) {
        throw new OutpostError('AGENT_UNAUTHORIZED', 'send Authorization: Bearer <api.token>');
      }
    }
  });
}
