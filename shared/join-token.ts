import { z } from 'zod';
import { MQTT_URL_LIST } from './broker-urls.js';
import { DeviceIdSchema } from './ids.js';

/**
 * A join token: everything an agent needs to join a hub, in one string that an operator copies
 * from `outpost devices add` to `outpost agent join`. It holds the device secret, so it is as
 * secret as the secret itself.
 */
export const JoinTokenSchema = z.strictObject({
  v: z.literal(1),
  deviceId: DeviceIdSchema,
  deviceSecret: z.string().min(16),
  /**
   * The hub's public MQTT URL (`mqtt://` or `mqtts://`), as remote devices reach it; a NATS
   * cluster's is a comma-separated list of its nodes (agents before NATS support refuse such a token).
   */
  mqttUrl: z.union([
    z.url({ protocol: /^(mqtts?|wss?)$/ }),
    z.string().regex(MQTT_URL_LIST, 'must be an MQTT URL or a comma-separated list of them'),
  ]),
  /** The hub's public HTTP(S) URL (artifacts, hub inference). */
  httpUrl: z.url({ protocol: /^https?$/ }),
  /** PEM public keys the hub signs model manifests with. */
  trustedKeys: z.array(z.string().min(1)),
  /** PEM CA certificate that verifies the hub's TLS certificate, when TLS is on. */
  caPem: z.string().min(1).optional(),
  /**
   * The agent's `link.qos`, written by a hub on a NATS cluster only (0: no JetStream write per
   * batch, no JetStream consumer per subscription); absent, the agent's default (1). Agents
   * from before this field refuse a token that has it (docs/compatibility.md "Join tokens").
   */
  linkQos: z.literal(0).optional(),
});
export type JoinToken = z.infer<typeof JoinTokenSchema>;

const PREFIX = 'outpost-join-1.';

/** `outpost-join-1.` + base64url of the token's JSON. */
export function encodeJoinToken(token: JoinToken): string {
  return PREFIX + Buffer.from(JSON.stringify(JoinTokenSchema.parse(token)), 'utf8').toString('base64url');
}

/** Reads a join token; throws an Error saying what is wrong with it. */
export function decodeJoinToken(text: string): JoinToken {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) throw new Error(`a join token starts with ${PREFIX}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(trimmed.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new Error('the join token is damaged (not base64url JSON); copy it again');
  }
  const parsed = JoinTokenSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(
      `the join token is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
