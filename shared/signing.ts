import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { formatIssues } from './codec.js';
import { OutpostError } from './errors.js';
import { type Manifest, ManifestSchema, type SignedManifest, SignedManifestSchema } from './manifest.js';

/** An ed25519 key pair as PEM strings (PKCS#8 private, SPKI public). */
export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Makes a new ed25519 signing key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** First 16 hex digits of the SHA-256 of the public key's DER (SPKI) encoding. */
export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** An ed25519 signature over a value's canonical JSON. */
export interface CanonicalSignature {
  alg: 'ed25519';
  keyId: string;
  sig: string;
}

/** Signs the canonical JSON of `value` (a manifest, an agent bundle's manifest). */
export function signCanonical(value: unknown, keys: SigningKeyPair): CanonicalSignature {
  const sig = sign(null, Buffer.from(canonicalJson(value), 'utf8'), keys.privateKeyPem).toString('base64');
  return { alg: 'ed25519', keyId: keyIdOf(keys.publicKeyPem), sig };
}

/**
 * Verifies `signature` over the canonical JSON of `value` against trusted public keys
 * (several, so the hub's key can be rotated). Throws `PROTO_UNTRUSTED_KEY` or
 * `PROTO_BAD_SIGNATURE` naming `what`.
 */
export function verifyCanonical(
  value: unknown,
  signature: CanonicalSignature,
  trustedPublicKeysPem: readonly string[],
  what: string,
): void {
  const keys: KeyObject[] = trustedPublicKeysPem
    .filter((pem) => keyIdOf(pem) === signature.keyId)
    .map((pem) => createPublicKey(pem));
  if (keys.length === 0) {
    throw new OutpostError(
      'PROTO_UNTRUSTED_KEY',
      `${what} is signed by key ${signature.keyId}, which is not trusted`,
    );
  }
  const message = Buffer.from(canonicalJson(value), 'utf8');
  const sig = Buffer.from(signature.sig, 'base64');
  if (!keys.some((key) => verify(null, message, key, sig))) {
    throw new OutpostError('PROTO_BAD_SIGNATURE', `signature of ${what} does not verify`);
  }
}

/** Signs the canonical JSON of a (validated) manifest. */
export function signManifest(manifest: Manifest, keys: SigningKeyPair): SignedManifest {
  const valid = ManifestSchema.parse(manifest);
  return { manifest: valid, signature: signCanonical(valid, keys) };
}

/**
 * Verifies a signed manifest against a set of trusted public keys (several, so the hub's
 * key can be rotated). Returns the manifest, or throws `PROTO_INVALID_PAYLOAD`,
 * `PROTO_UNTRUSTED_KEY` or `PROTO_BAD_SIGNATURE`.
 */
export function verifySignedManifest(signed: unknown, trustedPublicKeysPem: readonly string[]): Manifest {
  const parsed = SignedManifestSchema.safeParse(signed);
  if (!parsed.success) throw new OutpostError('PROTO_INVALID_PAYLOAD', formatIssues(parsed.error).join('; '));
  const { manifest, signature } = parsed.data;
  verifyCanonical(manifest, signature, trustedPublicKeysPem, `manifest ${manifest.name}@${manifest.version}`);
  return manifest;
}
