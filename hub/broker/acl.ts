import type { AedesOptions, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { isDeviceId, isDownlinkChannel, isUplinkChannel, parseDeviceTopic } from '../../shared/index.js';
import type { Rejections } from '../rejections.js';
import { generateSecret, hashSecret, verifySecret } from '../secrets.js';
import type { Admission, AuthFailureGuard } from '../security/failure-guard.js';
import type { TokenBuckets } from '../security/token-bucket.js';
import type { HubStore } from '../store/types.js';
import { certifiedDeviceId } from '../tls.js';

/** MQTT 3.1.1 CONNACK return codes the hub answers with. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

/** What the broker's access control needs. */
export interface AclDeps {
  store: HubStore;
  rejections: Rejections;
  logger: Logger;
  /** Successful CONNECTs per device id, charged after authentication; absent = unlimited. */
  connectLimit?: TokenBuckets;
  /** Bounds on failed CONNECTs per source address and overall; absent = unbounded. */
  connectGuard?: AuthFailureGuard;
  /**
   * Client certificates: when not `off`, a connection that presents a verified
   * certificate must use the certificate's CN as its user name.
   */
  clientCerts?: 'off' | 'optional' | 'required';
}

type AclHandlers = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;

/**
 * The embedded broker's authentication and ACL (docs/architecture.md "Wire protocol"):
 * - connect: username = client id = an enrolled device id, password = its secret (scrypt);
 *   refused with 4 (bad username or password) or 5 (not authorized);
 * - publish: a device only to its own `up`, `state`, `status` (else the broker drops the
 *   connection); the hub itself (client null) anywhere;
 * - subscribe: a device only to exactly its own `ack`, `desired`, `cmd`, no wildcards (else
 *   the SUBACK carries 0x80).
 */
export function createAclHandlers(deps: AclDeps): AclHandlers {
  const { store, rejections, logger } = deps;
  // Computed once, up front: an unknown id is checked against it with exactly the work a
  // known id costs (one scrypt), so timing does not tell which ids exist.
  const dummyHash = hashSecret(generateSecret());
  dummyHash.catch(() => undefined);

  /** 0 when allowed, else the CONNACK return code. */
  async function check(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    admission: Admission | undefined,
  ) {
    if (username === undefined || password === undefined) return BAD_USERNAME_OR_PASSWORD;
    if (username !== client.id) return NOT_AUTHORIZED;
    if ((deps.clientCerts ?? 'off') !== 'off') {
      const certified = certifiedDeviceId((client as Client & { conn?: unknown }).conn);
      if (certified === null && deps.clientCerts === 'required') return NOT_AUTHORIZED;
      if (typeof certified === 'string' && certified !== username) return NOT_AUTHORIZED;
    }
    const device = isDeviceId(username) ? await store.getDevice(username) : undefined;
    // Verify even for an unknown device, so timing does not tell which ids exist.
    const hash = device?.secretHash ?? (await dummyHash);
    const verify = () => verifySecret(password.toString('utf8'), hash);
    const ok = await (admission && deps.connectGuard ? deps.connectGuard.check(admission, verify) : verify());
    return device !== undefined && ok ? 0 : BAD_USERNAME_OR_PASSWORD;
  }

  const refuse = (
    done: (e: AuthenticateError | null, ok: boolean | null) => void,
    code: number,
    message: string,
  ) => done(Object.assign(new Error(message), { returnCode: code }) as AuthenticateError, false);

  /**
   * Order: the source address's failure budget (no hashing when spent), then the password
   * check (one scrypt, known id or not), then the device's own CONNECT rate (only a device
   * that proved its secret spends it, so nobody else can lock it out).
   */
  const authenticate: AclHandlers['authenticate'] = (client, username, password, done) => {
    const source = sourceAddress(client);
    const admission = deps.connectGuard?.admit(source);
    if (typeof admission === 'string') {
      rejections.reject(source, 'connect.source-limited', admission, { clientId: client.id });
      return refuse(done, 3, 'connect refused: too many failures');
    }
    const admitted = admission;
    check(client, username, password, admitted).then(
      (code) => {
        if (code !== 0) {
          if (admitted) deps.connectGuard?.failed(admitted);
          const reason = code === NOT_AUTHORIZED ? 'connect.not-authorized' : 'connect.bad-credentials';
          rejections.reject(client.id, reason, `connect refused with return code ${code}`, {
            username: username ?? null,
            source,
          });
          return refuse(done, code, `connection refused (${code})`);
        }
        if (admitted) deps.connectGuard?.succeeded(admitted);
        // A device reconnecting in a tight loop is refused; only it spends its own budget.
        const wait = deps.connectLimit?.take(client.id) ?? 0;
        if (wait > 0) {
          rejections.reject(client.id, 'connect.rate-limited', `too many CONNECTs; next in ${wait} s`);
          return refuse(done, 3, 'connect rate limited');
        }
        done(null, true);
      },
      (err: unknown) => {
        logger.error({ err, clientId: client.id }, 'authentication failed with an error');
        refuse(done, 3, 'server unavailable');
      },
    );
  };

  const authorizePublish: AclHandlers['authorizePublish'] = (
    client: Client | null,
    packet: PublishPacket,
    callback,
  ) => {
    if (client === null) return callback(null);
    const parsed = parseDeviceTopic(packet.topic);
    if (parsed !== undefined && parsed.deviceId === client.id && isUplinkChannel(parsed.channel)) {
      return callback(null);
    }
    rejections.reject(client.id, 'acl.publish', `publish to ${packet.topic} is not allowed`, {
      topic: packet.topic,
    });
    callback(new Error(`not authorized to publish to ${packet.topic}`));
  };

  const authorizeSubscribe: AclHandlers['authorizeSubscribe'] = (
    client: Client,
    sub: Subscription,
    callback,
  ) => {
    const parsed = parseDeviceTopic(sub.topic);
    if (parsed !== undefined && parsed.deviceId === client.id && isDownlinkChannel(parsed.channel)) {
      return callback(null, sub);
    }
    rejections.reject(client.id, 'acl.subscribe', `subscribe to ${sub.topic} is not allowed`, {
      topic: sub.topic,
    });
    callback(null, null);
  };

  return { authenticate, authorizePublish, authorizeSubscribe };
}

/** The remote address of a client's connection (TCP, TLS, or the WebSocket's HTTP request). */
function sourceAddress(client: Client): string {
  const c = client as Client & {
    conn?: { remoteAddress?: string };
    req?: { socket?: { remoteAddress?: string } };
  };
  return c.conn?.remoteAddress ?? c.req?.socket?.remoteAddress ?? 'unknown';
}
