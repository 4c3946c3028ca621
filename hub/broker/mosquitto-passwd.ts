import { pbkdf2, randomBytes } from 'node:crypto';

/**
 * PBKDF2 iterations of a `$7$` hash. Mosquitto's own default (`mosquitto_passwd`) is 101:
 * device secrets are 32 random bytes, so the hash guards a 256-bit secret, not a guessable
 * password, and every device CONNECT pays this cost on the broker.
 */
export const MOSQUITTO_PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const KEY_BYTES = 64;

/**
 * A Mosquitto password-file hash of `secret`, the format `mosquitto_passwd`
 * writes since 2.0: `$7$ITERATIONS$SALT$HASH`, PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte
 * key, both standard base64.
 */
export function mosquittoHash(secret: string, iterations = MOSQUITTO_PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return new Promise((resolve, reject) => {
    pbkdf2(secret, salt, iterations, KEY_BYTES, 'sha512', (err, key) =>
      err ? reject(err) : resolve(`$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`),
    );
  });
}
