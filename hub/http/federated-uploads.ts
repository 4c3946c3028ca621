import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { OutpostError, Sha256Schema } from '../../shared/index.js';
import { FL_UPLOAD_PART_BYTES, FlTaskIdSchema } from '../../shared/messages/federated.js';
import type { FlUploads, UploadState } from '../federated/uploads.js';
import { createCallerAuth } from '../inference/device-auth.js';
import { type HttpDeps, parseRequest } from './context.js';

/** Path prefix of update uploads: devices authenticate themselves here (Basic or certificate). */
export const FL_UPLOADS_PREFIX = '/v1/federated/uploads/';

/** Media type of a part (as in tus); `application/octet-stream` is taken too. */
export const UPLOAD_PART_MEDIA_TYPE = 'application/offset+octet-stream';

const ParamsSchema = z.strictObject({ task: FlTaskIdSchema, round: z.coerce.number().int().positive() });
const Count = z.coerce.number().int().nonnegative();
const PartHeadersSchema = z.object({
  'upload-offset': Count,
  'upload-length': Count.pipe(z.number().positive()),
  'upload-sha256': Sha256Schema,
});

function answer(reply: FastifyReply, state: UploadState): void {
  reply.header('cache-control', 'no-store');
  reply.header('upload-offset', String(state.offset));
  if (state.length !== null) reply.header('upload-length', String(state.length));
  if (state.sha256 !== null) reply.header('upload-sha256', state.sha256);
  reply.header('upload-complete', String(state.complete));
}

/**
 * A device's update for `(task, round)`, uploaded in parts that survive a cut
 * link or an agent restart (hub/federated/uploads.ts):
 * - `HEAD /v1/federated/uploads/:task/:round` → 200 with `Upload-Offset` (bytes held without
 *   a gap: resume there), `Upload-Sha256` of what is held, `Upload-Complete`, and
 *   `Upload-Length` once complete.
 * - `PATCH` the same, body `application/offset+octet-stream` = one part of
 *   `FL_UPLOAD_PART_BYTES` (the last may be shorter), headers `Upload-Offset` (a multiple of the
 *   part size, at most the held offset), `Upload-Length` and `Upload-Sha256` of the whole → 204
 *   with the same headers as HEAD. A part held already changes nothing. 409 `FL_UPLOAD_OFFSET`
 *   (`details.offset`: send from there), 409 `FL_UPLOAD_REFUSED` (the round takes no update
 *   from this device now: stop), 422 `FL_BAD_UPDATE` (the whole hashed otherwise: every part
 *   was dropped, start over), 403 `HUB_FORBIDDEN` (not selected in the round, or the admin).
 * Auth: the device's Basic credentials or client certificate.
 */
export function registerFederatedUploadRoutes(
  app: FastifyInstance,
  deps: HttpDeps,
  uploads: FlUploads,
): void {
  const authenticate = createCallerAuth(deps.store, deps.adminToken, deps.authFailures);
  const device = async (request: Parameters<typeof authenticate>[0]) => {
    const caller = await authenticate(request);
    if (caller.kind !== 'device') throw new OutpostError('HUB_FORBIDDEN', 'updates are uploaded by devices');
    return caller.deviceId;
  };
  app.register(async (scope) => {
    // Only here: one part, buffered (at most FL_UPLOAD_PART_BYTES).
    for (const type of [UPLOAD_PART_MEDIA_TYPE, 'application/octet-stream']) {
      scope.addContentTypeParser(
        type,
        { parseAs: 'buffer', bodyLimit: FL_UPLOAD_PART_BYTES },
        (_request, body, done) => done(null, body),
      );
    }
    scope.route({
      method: 'HEAD',
      url: '/v1/federated/uploads/:task/:round',
      handler: async (request, reply) => {
        const deviceId = await device(request);
        const { task, round } = parseRequest(ParamsSchema, request.params, 'path');
        answer(reply, await uploads.head(deviceId, task, round));
        return reply.status(200).send();
      },
    });
    scope.patch('/v1/federated/uploads/:task/:round', async (request, reply) => {
      const deviceId = await device(request);
      const { task, round } = parseRequest(ParamsSchema, request.params, 'path');
      const headers = parseRequest(PartHeadersSchema, request.headers, 'headers');
      const body = request.body;
      if (!Buffer.isBuffer(body)) {
        return reply
          .status(415)
          .send(
            new OutpostError(
              'HUB_BAD_REQUEST',
              `send the part as an ${UPLOAD_PART_MEDIA_TYPE} body`,
            ).toBody(),
          );
      }
      const state = await uploads.patch(deviceId, task, round, {
        offset: headers['upload-offset'],
        length: headers['upload-length'],
        sha256: headers['upload-sha256'],
        bytes: body,
      });
      answer(reply, state);
      return reply.status(204).send();
    });
  });
}
