import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets and admin-token comparison. A device secret is 32 random bytes
 * (base64url), shown once at enrollment and stored only as an scrypt hash of the form
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url), so the parameters can change later
 * without invalidating stored hashes.
 */

const SCRYPT_N = 16_384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Largest scrypt cost accepted from a stored hash (guards against a corrupted row). */
const MAX_N = 1 << 20;

function scryptAsync(secret: string, salt: Buffer, n: number, r: number, p: number, len: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(secret, salt, len, { N: n, r, p, maxmem: 256 * n * r * p + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A fresh device secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A random token for the admin API: 32 random bytes, base64url. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Hashes `secret` with scrypt and a random salt; the result embeds its parameters. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES);
  return ['scrypt', SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

/**
 * True when `secret` matches `stored` (from {@link hashSecret}). Compares in constant time;
 * a malformed stored hash never matches.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const expected = Buffer.from(parts[5] as string, 'base64url');
  const valid = [n, r, p].every((x) => Number.isInteger(x) && x > 0) && n <= MAX_N && r <= 32 && p <= 16;
  if (!valid || expected.length < 16 || salt.length === 0) return false;
  const actual = await scryptAsync(secret, salt, n, r, p, expected.length);
  return timingSafeEqual(actual, expected);
}

/**
 * Compares two tokens in constant time: both sides are hashed with SHA-256 first, so the
 * comparison neither leaks the length nor throws on a length mismatch.
 */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
