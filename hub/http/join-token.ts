import { encodeJoinToken } from '../../shared/index.js';
import type { HttpDeps } from './context.js';

/** The join token of a device with a new secret: the hub's public endpoints and signing keys. */
export async function joinTokenFor(
  deps: Pick<HttpDeps, 'endpoints' | 'delivery'>,
  deviceId: string,
  secret: string,
): Promise<string> {
  const { publicMqttUrl, publicHttpUrl, caPem, linkQos } = deps.endpoints();
  const keys = (await deps.delivery?.registry.publicKeys()) ?? [];
  return encodeJoinToken({
    v: 1,
    deviceId,
    deviceSecret: secret,
    mqttUrl: publicMqttUrl,
    httpUrl: publicHttpUrl,
    trustedKeys: keys.map((k) => k.publicKeyPem),
    ...(caPem === undefined ? {} : { caPem }),
    ...(linkQos === undefined ? {} : { linkQos }),
  });
}
