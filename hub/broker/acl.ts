import type { AedesOptions, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { isDeviceId, isDownlinkChannel, isUplinkChannel, parseDeviceTopic } from '../../shared/index.js';
import type { Rejections } from '../rejections.js';
import { generateSecret, hashSecret, verifySecret } from '../secrets.js';
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
  /** CONNECT attempts per device id; absent = unlimited. */
  connectLimit?: TokenBuckets;
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
  let dummyHash: Promise<string> | undefined;
  const dummy = () => {
    dummyHash ??= hashSecret(generateSecret());
    return dummyHash;
  };

  /** 0 when allowed, else the CONNACK return code. */
  async function check(client: Client, username: string | undefined, password: Buffer | undefined) {
    if (username === undefined || password === undefined) return BAD_USERNAME_OR_PASSWORD;
    if (username !== client.id) return NOT_AUTHORIZED;
    if ((deps.clientCerts ?? 'off') !== 'off') {
      const certified = certifiedDeviceId((client as Client & { conn?: unknown }).conn);
      if (certified === null && deps.clientCerts === 'required') return NOT_AUTHORIZED;
      if (typeof certified === 'string' && certified !== username) return NOT_AUTHORIZED;
    }
    const device = isDeviceId(username) ? await store.getDevice(username) : undefined;
    // Verify even for an unknown device, so timing does not tell which ids exist.
    const ok = await verifySecret(password.toString('utf8'), device?.secretHash ?? (await dummy()));
    return device !== undefined && ok ? 0 : BAD_USERNAME_OR_PASSWORD;
  }

  const authenticate: AclHandlers['authenticate'] = (client, username, password, done) => {
    // A device reconnecting in a tight loop is refused before any scrypt is spent.
    const wait = deps.connectLimit?.take(client.id) ?? 0;
    if (wait > 0) {
      rejections.reject(client.id, 'connect.rate-limited', `too many CONNECTs; next in ${wait} s`);
      const error = Object.assign(new Error('connect rate limited'), { returnCode: 3 }) as AuthenticateError;
      return done(error, false);
    }
    check(client, username, password).then(
      (code) => {
        if (code === 0) return done(null, true);
        const reason = code === NOT_AUTHORIZED ? 'connect.not-authorized' : 'connect.bad-credentials';
        rejections.reject(client.id, reason, `connect refused with return code ${code}`, {
          username: username ?? null,
        });
        const error = Object.assign(new Error(`connection refused (${code})`), {
          returnCode: code,
        }) as AuthenticateError;
        done(error, false);
      },
      (err: unknown) => {
        logger.error({ err, clientId: client.id }, 'authentication failed with an error');
        const error = Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError;
        done(error, false);
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
