import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isDeviceId, OutpostError } from '../../shared/index.js';
import { generateSecret, hashSecret, tokensEqual, verifySecret } from '../secrets.js';
import type { FailureGuard } from '../security/failure-guard.js';
import { canAuthenticate } from '../store/device-lifecycle-types.js';
import type { HubStore } from '../store/types.js';
import { certifiedDeviceId } from '../tls.js';

/** Who called: the admin, or an enrolled device. */
export type Caller = { kind: 'admin' } | { kind: 'device'; deviceId: string };

/** How long a verified device secret is remembered (scrypt costs tens of ms per check), ms. */
const VERIFIED_TTL_MS = 60_000;
const MAX_REMEMBERED = 10_000;

/**
 * Authenticates inference callers: `Authorization: Bearer <admin token>`,
 * or `Authorization: Basic base64(deviceId:secret)` checked against the device's scrypt hash
 * (`hub/secrets.ts`). A verified (device, secret) pair is remembered for a minute by its
 * SHA-256 only, so inference does not pay scrypt on every call; a deleted device stops
 * working within that minute. Over HTTPS with `tls.clientCerts`, a verified
 * client certificate stands in for Basic: its CN names the device (which must be enrolled),
 * and Basic credentials sent along must name the same device. Throws `HUB_UNAUTHORIZED`.
 */
export function createCallerAuth(store: HubStore, adminToken: string, failures?: FailureGuard) {
  const verified = new Map<string, number>();
  // Computed once, up front, so an unknown id costs what a known one does.
  const dummyHash = hashSecret(generateSecret());
  dummyHash.catch(() => undefined);
  return async function authenticate(request: FastifyRequest): Promise<Caller> {
    const header = request.headers.authorization;
    const certified = certifiedDeviceId(request.raw.socket) ?? undefined;
    if (certified !== undefined && !/^Bearer\s/i.test(header ?? '')) {
      const caller =
        typeof header === 'string' ? await byBasic(header, request.ip) : await byCertificate(certified);
      if (caller.deviceId !== certified) {
        throw new OutpostError(
          'HUB_UNAUTHORIZED',
          `client certificate names ${certified}, not ${caller.deviceId}`,
        );
      }
      return caller;
    }
    if (typeof header !== 'string') {
      throw new OutpostError('HUB_UNAUTHORIZED', 'send the admin bearer token or device credentials (Basic)');
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) {
      if (tokensEqual(bearer[1] as string, adminToken)) return { kind: 'admin' };
      throw new OutpostError('HUB_UNAUTHORIZED', 'wrong bearer token');
    }
    return byBasic(header, request.ip);
  };

  async function byCertificate(deviceId: string): Promise<{ kind: 'device'; deviceId: string }> {
    const device = isDeviceId(deviceId) ? await store.getDevice(deviceId) : undefined;
    // A disabled or removed device's certificate is refused like its secret.
    if (!device || !canAuthenticate(device.secretHash))
      throw new OutpostError('HUB_UNAUTHORIZED', `client certificate of unknown device ${deviceId}`);
    return { kind: 'device', deviceId };
  }

  /**
   * Past the source's (or everyone's) failure budget, refused with `HUB_RATE_LIMITED` before
   * any scrypt; an unknown id costs one scrypt like a known one.
   */
  async function byBasic(header: string, source: string): Promise<{ kind: 'device'; deviceId: string }> {
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
    const decoded = basic ? Buffer.from(basic[1] as string, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new OutpostError('HUB_UNAUTHORIZED', 'malformed Authorization header');
    const deviceId = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const key = createHash('sha256').update(decoded).digest('base64');
    const until = verified.get(key);
    if (until !== undefined && until > Date.now()) return { kind: 'device', deviceId };
    const admission = await failures?.admit(source);
    if (typeof admission === 'string')
      throw new OutpostError('HUB_RATE_LIMITED', `${admission}; retry later`);
    const device = isDeviceId(deviceId) ? await store.getDevice(deviceId) : undefined;
    // Verify even for an unknown device, so timing does not tell which ids exist.
    const hash = device?.secretHash ?? (await dummyHash);
    const verify = () => verifySecret(secret, hash);
    const ok = await (admission && failures ? failures.check(admission, verify) : verify());
    if (!device || !ok) {
      if (admission) await failures?.failed(admission);
      throw new OutpostError('HUB_UNAUTHORIZED', 'unknown device or wrong device secret');
    }
    if (admission) await failures?.succeeded(admission);
    if (verified.size >= MAX_REMEMBERED) verified.clear();
    verified.set(key, Date.now() + VERIFIED_TTL_MS);
    return { kind: 'device', deviceId };
  }
}
