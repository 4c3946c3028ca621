import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatPlatform, SemverSchema, Sha256Schema } from '../../shared/index.js';
import type { AgentBundleRegistry } from '../registry/agent-bundles.js';
import type { AgentBundleRecord } from '../store/agent-bundle-types.js';
import { type HttpDeps, parseRequest } from './context.js';

/** Query of `POST /v1/agents/releases` (the body is the bundle's bytes). */
export const AgentPushQuerySchema = z.strictObject({
  /** When given, the upload is refused unless its bytes hash to it. */
  sha256: Sha256Schema.optional(),
});
/** Query of `DELETE /v1/agents/releases/:version`. */
export const AgentDeleteQuerySchema = z.strictObject({
  /** Only this platform's bundle (`os/arch/libc/abi`). */
  platform: z.string().min(1).max(128).optional(),
});
const VersionParamsSchema = z.strictObject({ version: SemverSchema });

/** One bundle as the admin API shows it. */
export function bundleView(b: AgentBundleRecord) {
  return {
    version: b.version,
    platform: formatPlatform(b.platform),
    sha256: b.sha256,
    size: b.size,
    keyId: b.signed.signature.keyId,
    createdAt: b.createdAt,
  };
}

/** Agent releases with their bundles, and how many devices report running each. */
async function releases(deps: HttpDeps, agents: AgentBundleRegistry, version?: string) {
  const [bundles, devices] = await Promise.all([agents.list(version), deps.store.listDevices()]);
  const running = new Map<string, number>();
  for (const d of devices) {
    const v = (d.reported as { agentVersion?: unknown } | null)?.agentVersion;
    if (typeof v === 'string') running.set(v, (running.get(v) ?? 0) + 1);
  }
  const byVersion = new Map<string, AgentBundleRecord[]>();
  for (const b of bundles) byVersion.set(b.version, [...(byVersion.get(b.version) ?? []), b]);
  return [...byVersion].map(([v, list]) => ({
    version: v,
    createdAt: Math.min(...list.map((b) => b.createdAt)),
    bundles: list.map(bundleView),
    devices: running.get(v) ?? 0,
  }));
}

/**
 * Agent releases in the registry (docs/agent-updates.md), admin bearer token:
 * - `POST /v1/agents/releases?sha256=` with a bundle (`outpost agents bundle`) as an
 *   `application/octet-stream` body (streamed to disk) → 201 the bundle's view; the hub reads
 *   the release and platform from the bundle's `outpost-bundle.json` and signs its manifest.
 *   422 `HUB_AGENT_BUNDLE_INVALID`, 409 `HUB_AGENT_BUNDLE_EXISTS`, 413, 400 `HUB_ARTIFACT_MISMATCH`.
 * - `GET /v1/agents/releases` → `{releases: [{version, createdAt, bundles, devices}]}`.
 * - `GET /v1/agents/releases/:version` → the release with its signed manifests.
 * - `DELETE /v1/agents/releases/:version?platform=` → 204; 409 `HUB_AGENT_BUNDLE_IN_USE`.
 */
export function registerAgentRoutes(app: FastifyInstance, deps: HttpDeps, agents: AgentBundleRegistry): void {
  app.register(async (scope) => {
    // Only here: the body is streamed to the artifact store, never buffered by fastify.
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    scope.post('/v1/agents/releases', async (request, reply) => {
      const query = parseRequest(AgentPushQuerySchema, request.query, 'query');
      const body = request.body as Readable | undefined;
      if (body === undefined || typeof (body as { pipe?: unknown }).pipe !== 'function') {
        return reply.status(415).send({
          error: { code: 'HUB_BAD_REQUEST', message: 'send the bundle as an application/octet-stream body' },
        });
      }
      const record = await agents.push(body, { expectedSha256: query.sha256 });
      return reply.status(201).send(bundleView(record));
    });
  });

  app.get('/v1/agents/releases', async () => ({ releases: await releases(deps, agents) }));

  app.get('/v1/agents/releases/:version', async (request) => {
    const { version } = parseRequest(VersionParamsSchema, request.params, 'path');
    const bundles = await agents.get(version);
    const [release] = await releases(deps, agents, version);
    return { ...release, manifests: bundles.map((b) => b.signed) };
  });

  app.delete('/v1/agents/releases/:version', async (request, reply) => {
    const { version } = parseRequest(VersionParamsSchema, request.params, 'path');
    const { platform } = parseRequest(AgentDeleteQuerySchema, request.query, 'query');
    await agents.delete(version, platform);
    deps.logger.info({ version, platform }, 'agent release deleted by the admin');
    return reply.status(204).send();
  });
}
