import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ManifestSchema, PRECISIONS, SemverSchema, Sha256Schema } from '../../shared/index.js';
import type { Registry } from '../registry/registry.js';
import type { ModelVersionRecord } from '../store/registry-types.js';
import { type HttpDeps, parseRequest } from './context.js';
import { PUSH_SAMPLE_MAX_BYTES, splitSample } from './push-sample.js';

const NameSchema = ManifestSchema.shape.name;
const VersionParamsSchema = z.strictObject({ name: NameSchema, version: SemverSchema });

/** Query of `POST /v1/models/:name/versions/:version` (the body is the artifact's bytes). */
export const PushQuerySchema = z.strictObject({
  variant: z.enum(PRECISIONS).default('fp32'),
  parent: SemverSchema.optional(),
  source: z.string().min(1).max(512).optional(),
  round: z.coerce.number().int().nonnegative().optional(),
  /** When given, the upload is refused unless its bytes hash to it. */
  sha256: Sha256Schema.optional(),
  /**
   * When given, the body starts with this many bytes of sample inputs (JSON, as
   * `models push --sample FILE` sends them), then the artifact: the hub warms up and runs its
   * reference on them.
   */
  sampleBytes: z.coerce.number().int().min(1).max(PUSH_SAMPLE_MAX_BYTES).optional(),
});

/** A version as the admin API shows it. */
export function versionView(record: ModelVersionRecord) {
  return {
    name: record.name,
    version: record.version,
    createdAt: record.createdAt,
    lineage: record.lineage ?? {},
    variants: record.variants.map((v) => ({
      precision: v.precision,
      format: v.format,
      sha256: v.sha256,
      size: v.size,
      keyId: v.signed.signature.keyId,
    })),
  };
}

/**
 * The registry's admin API, admin bearer token:
 * - `POST /v1/models/:name/versions/:version?variant=&parent=&source=&round=&sha256=&sampleBytes=`
 *   with the artifact as an `application/octet-stream` body (after `sampleBytes` of sample inputs
 *   when given) (streamed to disk; an ONNX file or a TF.js
 *   bundle) → 201 version view. 413 past `registry.maxArtifactBytes`, 409 `HUB_MODEL_EXISTS`,
 *   400 `HUB_ARTIFACT_MISMATCH`, 422 `INFER_MODEL_INVALID` (the hub cannot run it).
 * - `GET /v1/models` → `{versions: [...]}`; `GET /v1/models/:name` → that model's versions.
 * - `GET /v1/models/:name/versions/:version` → view plus the signed manifests.
 * - `DELETE /v1/models/:name/versions/:version` → 204; 409 `HUB_MODEL_IN_USE` naming the references.
 * - `GET /v1/keys` → `{current: keyId, keys: [{keyId, publicKeyPem}]}`, current first, then the
 *   retired ones (provision agents with them).
 * - `POST /v1/keys/rotate` → the same after a rotation: new registrations are signed with a new key.
 */
export function registerModelRoutes(app: FastifyInstance, deps: HttpDeps, registry: Registry): void {
  app.register(async (scope) => {
    // Only here: the body is streamed to the artifact store, never buffered by fastify.
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    scope.post('/v1/models/:name/versions/:version', async (request, reply) => {
      const { name, version } = parseRequest(VersionParamsSchema, request.params, 'path');
      const query = parseRequest(PushQuerySchema, request.query, 'query');
      const body = request.body as NodeJS.ReadableStream | undefined;
      if (body === undefined || typeof (body as { pipe?: unknown }).pipe !== 'function') {
        return reply.status(415).send({
          error: {
            code: 'HUB_BAD_REQUEST',
            message: 'send the artifact as an application/octet-stream body',
          },
        });
      }
      const lineage = {
        ...(query.parent !== undefined ? { parent: query.parent } : {}),
        ...(query.source !== undefined ? { source: query.source } : {}),
        ...(query.round !== undefined ? { round: query.round } : {}),
      };
      const split =
        query.sampleBytes === undefined
          ? undefined
          : await splitSample(body as import('node:stream').Readable, query.sampleBytes);
      const record = await registry.pushStream(split?.artifact ?? (body as import('node:stream').Readable), {
        name,
        version,
        precision: query.variant,
        ...(split ? { samples: split.samples } : {}),
        ...(Object.keys(lineage).length > 0 ? { lineage } : {}),
        expectedSha256: query.sha256,
      });
      return reply.status(201).send(versionView(record));
    });
  });

  app.get('/v1/models', async () => ({ versions: (await registry.list()).map(versionView) }));

  app.get('/v1/models/:name', async (request) => {
    const { name } = parseRequest(z.strictObject({ name: NameSchema }), request.params, 'path');
    return { versions: (await registry.list(name)).map(versionView) };
  });

  app.get('/v1/models/:name/versions/:version', async (request) => {
    const { name, version } = parseRequest(VersionParamsSchema, request.params, 'path');
    const record = await registry.get(name, version);
    return { ...versionView(record), manifests: record.variants.map((v) => v.signed) };
  });

  app.delete('/v1/models/:name/versions/:version', async (request, reply) => {
    const { name, version } = parseRequest(VersionParamsSchema, request.params, 'path');
    await registry.delete(name, version);
    deps.logger.info({ model: name, version }, 'model version deleted by the admin');
    return reply.status(204).send();
  });

  app.get('/v1/keys', async () => ({
    current: registry.signingKey.keyId,
    keys: await registry.publicKeys(),
  }));

  app.post('/v1/keys/rotate', async () => {
    const next = await registry.rotateKey();
    deps.logger.warn({ keyId: next.keyId }, 'signing key rotated by the admin');
    return { current: next.keyId, keys: await registry.publicKeys() };
  });
}
