import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { OutpostError } from '../../shared/index.js';

/** An x25519 key pair with its raw 32-byte halves. */
export interface X25519Pair {
  privateKey: KeyObject;
  publicRaw: Uint8Array;
  privateRaw: Uint8Array;
}

const fromB64url = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'));

/** A fresh x25519 key pair (`node:crypto`). */
export function generatePair(): X25519Pair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string; x: string };
  return { privateKey, publicRaw: fromB64url(jwk.x), privateRaw: fromB64url(jwk.d) };
}

/** The x25519 private key with raw bytes `d` (and public `x`), as rebuilt from Shamir shares. */
export function privateFromRaw(d: Uint8Array, x: Uint8Array): KeyObject {
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'X25519',
      d: Buffer.from(d).toString('base64url'),
      x: Buffer.from(x).toString('base64url'),
    },
    format: 'jwk',
  });
}

/** The key pair with raw halves `d` (private) and `x` (public), as a client saved them. */
export function pairFromRaw(d: Uint8Array, x: Uint8Array): X25519Pair {
  if (d.length !== 32 || x.length !== 32)
    throw new OutpostError('FL_SECAGG_FAILED', `x25519 key halves of ${d.length} and ${x.length} bytes`);
  return { privateKey: privateFromRaw(d, x), publicRaw: x, privateRaw: d };
}

/** x25519 Diffie-Hellman of our private key with a raw public key: the 32-byte shared secret. */
export function agree(privateKey: KeyObject, publicRaw: Uint8Array): Buffer {
  if (publicRaw.length !== 32)
    throw new OutpostError('FL_SECAGG_FAILED', `x25519 public key of ${publicRaw.length} bytes`);
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicRaw).toString('base64url') },
    format: 'jwk',
  });
  return diffieHellman({ privateKey, publicKey });
}
