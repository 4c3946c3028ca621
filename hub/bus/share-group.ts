import { createHmac } from 'node:crypto';
import type { BrokerConfig } from './mqtt-config.js';

/**
 * The hub's shared-subscription group on an external broker: `broker.shareGroup` when set,
 * else `g` + 32 hex digits of HMAC-SHA256(broker password, user name). Every replica holds the
 * same password, so they all compute the same group without storing or exchanging anything,
 * and nobody without the password (a device) can guess it. Changing the password changes the
 * group, which is harmless: replicas reconnect with the new password anyway.
 */
export function shareGroupName(config: Pick<BrokerConfig, 'shareGroup' | 'password' | 'username'>): string {
  if (config.shareGroup !== undefined) return config.shareGroup;
  if (config.password === undefined) throw new Error('a shared-subscription group needs broker.password');
  const mac = createHmac('sha256', config.password).update(`outpost share group\0${config.username}`);
  return `g${mac.digest('hex').slice(0, 32)}`;
}
