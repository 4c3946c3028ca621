import bcrypt from 'bcryptjs';
import { mosquittoHash } from './mosquitto-passwd.js';

/**
 * bcrypt cost of a device secret's NATS hash. The minimum: a device secret is 32 random bytes,
 * so the hash guards a 256-bit secret, not a guessable password, and nats-server pays this cost
 * on every device CONNECT (about a millisecond at 4, about 60 at 10).
 */
export const NATS_BCRYPT_COST = 4;

/**
 * What the store keeps as a device's broker hash (`putBrokerHash`, `updateCredentials`): the
 * Mosquitto `$7$` hash, a space, and a bcrypt hash of the same secret for nats-server (which
 * reads only bcrypt). Neither alphabet holds a space. Devices enrolled before NATS support
 * have the `$7$` part only; they need one `rotate-secret` before they can log in to NATS.
 */
export async function brokerHashes(secret: string): Promise<string> {
  const [mosquitto, nats] = await Promise.all([mosquittoHash(secret), bcrypt.hash(secret, NATS_BCRYPT_COST)]);
  return `${mosquitto} ${nats}`;
}

/** The Mosquitto `$7$` part of a stored broker hash. */
export function mosquittoPart(stored: string): string {
  return stored.split(' ')[0] ?? '';
}

/** The bcrypt part of a stored broker hash, or undefined when it has none (an older enrollment). */
export function bcryptPart(stored: string): string | undefined {
  const part = stored.split(' ')[1];
  return part?.startsWith('$2') ? part : undefined;
}
