import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { OutpostError, Sha256Schema } from '../../shared/index.js';
import type { FlWeightsArtifacts } from '../federated/weights-artifacts.js';
import { createCallerAuth } from '../inference/device-auth.js';
import type { ArtifactStore } from '../registry/artifact-store.js';
import { desiredReferencesArtifact } from '../security/artifact-access.js';
import { type HttpDeps, parseRequest } from './context.js';

/** Path prefix of artifact downloads: devices authenticate themselves here (Basic), or the admin. */
export const ARTIFACTS_PREFIX = '/v1/artifacts/';

/** A single byte range, inclusive, or why none applies. */
export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Parses a `Range` header for a resource of `size` bytes (RFC 9110 §14): one `bytes=` range
 * (`a-b`, `a-`, `-n`) is served as 206; several ranges or a malformed header are ignored (the
 * whole resource, 200, as the RFC allows); a range starting past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return { kind: 'full' };
  const [, a = '', b = ''] = match;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

const ParamsSchema = z.strictObject({ sha256: Sha256Schema });

/**
 * `GET|HEAD /v1/artifacts/:sha256` (docs/architecture.md "Model artifacts"): the artifact,
 * streamed from disk. `ETag` is the quoted sha256 (an artifact never changes), `Accept-Ranges:
 * bytes`; one `Range` → 206 with `Content-Range`; past the end → 416 with `Content-Range:
 * bytes *\/SIZE`; `If-Range` other than the ETag → the whole artifact (200);
 * `If-None-Match` equal to the ETag → 304. Auth: a device's Basic credentials or the admin token;
 * a device gets only artifacts its desired state references — its models' variants, its
 * federated round's global weights — (else 404 `HUB_ARTIFACT_NOT_FOUND`). A round's global
 * weights missing from this hub's disk (another replica published them) are written from the
 * store first (`flWeights.ensure`).
 */
export function registerArtifactRoutes(
  app: FastifyInstance,
  deps: HttpDeps,
  artifacts: ArtifactStore,
  flWeights?: FlWeightsArtifacts,
): void {
  const authenticate = createCallerAuth(deps.store, deps.adminToken, deps.authFailures);

  app.route({
    method: ['GET', 'HEAD'],
    url: '/v1/artifacts/:sha256',
    handler: async (request, reply: FastifyReply) => {
      const caller = await authenticate(request);
      const { sha256 } = parseRequest(ParamsSchema, request.params, 'path');
      // A device gets only what its desired state references; it learns nothing about the rest.
      if (caller.kind === 'device') {
        const desired = await deps.store.getDesired(caller.deviceId);
        if (!desiredReferencesArtifact(desired, sha256)) {
          throw new OutpostError(
            'HUB_ARTIFACT_NOT_FOUND',
            `no artifact ${sha256} for device ${caller.deviceId}`,
          );
        }
        await flWeights?.ensure(desired, sha256);
      }
      const stats = await artifacts.stat(sha256);
      if (stats === undefined) throw new OutpostError('HUB_ARTIFACT_NOT_FOUND', `no artifact ${sha256}`);
      const size = stats.size;
      const etag = `"${sha256}"`;
      reply.header('etag', etag);
      reply.header('accept-ranges', 'bytes');
      reply.header('cache-control', 'private, max-age=31536000, immutable');
      reply.header('content-type', 'application/octet-stream');
      const ifNoneMatch = request.headers['if-none-match'];
      if (typeof ifNoneMatch === 'string' && ifNoneMatch.split(',').some((t) => t.trim() === etag)) {
        return reply.status(304).send();
      }
      const ifRange = request.headers['if-range'];
      const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined;
      const range = parseRange(rangeHeader, size);
      if (range.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${size}`);
        const err = new OutpostError(
          'HUB_RANGE_NOT_SATISFIABLE',
          `range ${rangeHeader} is outside the artifact's ${size} bytes`,
        );
        return reply
          .status(416)
          .header('content-type', 'application/json')
          .send(JSON.stringify(err.toBody()));
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : size - 1;
      if (range.kind === 'partial') {
        reply.status(206);
        reply.header('content-range', `bytes ${start}-${end}/${size}`);
      }
      reply.header('content-length', String(end - start + 1));
      if (request.method === 'HEAD' || size === 0) return reply.send();
      return reply.send(artifacts.read(sha256, { start, end }));
    },
  });
}
