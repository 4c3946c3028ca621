import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generateSigningKeyPair, keyIdOf, OutpostError, type SigningKeyPair } from '../../shared/index.js';

/** Directory under the data dir holding the hub's signing key. */
export const KEYS_DIR = 'keys';
/** The ed25519 private key (PKCS#8 PEM, mode 0600). */
export const SIGNING_KEY_FILE = 'signing-key.pem';
/** Its public key (SPKI PEM), provisioned on agents. */
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

/** Public keys of rotated-out signing keys, `{keyId}.pub.pem` each (still served by `GET /v1/keys`). */
export const RETIRED_DIR = 'retired';

/** The hub's signing key in force. */
export interface HubSigningKey {
  keys: SigningKeyPair;
  /** `keyIdOf(publicKeyPem)`: 16 hex digits, named by every signature. */
  keyId: string;
}

/** A public key agents may trust. */
export interface PublicKeyInfo {
  keyId: string;
  publicKeyPem: string;
}

/** The public keys of rotated-out signing keys, oldest file name first. */
export async function retiredPublicKeys(dataDir: string): Promise<PublicKeyInfo[]> {
  const dir = join(dataDir, KEYS_DIR, RETIRED_DIR);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.pub.pem')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: PublicKeyInfo[] = [];
  for (const file of files) {
    const publicKeyPem = await readFile(join(dir, file), 'utf8');
    out.push({ keyId: keyIdOf(publicKeyPem), publicKeyPem });
  }
  return out;
}

/**
 * Rotates the signing key: keeps the current public key under
 * `keys/retired/{keyId}.pub.pem`, deletes the private key and creates a new one. Manifests
 * already signed keep their old signature: provision agents with the new key before rotating
 * (they trust a set), and drop the old one from them once every version in use is re-pushed.
 */
export async function rotateSigningKey(dataDir: string, log: Logger): Promise<HubSigningKey> {
  const current = await loadOrCreateSigningKey(dataDir, log);
  const dir = join(dataDir, KEYS_DIR);
  await mkdir(join(dir, RETIRED_DIR), { recursive: true, mode: 0o700 });
  await writeFile(join(dir, RETIRED_DIR, `${current.keyId}.pub.pem`), current.keys.publicKeyPem, {
    mode: 0o644,
  });
  await rename(join(dir, SIGNING_KEY_FILE), join(dir, RETIRED_DIR, `${current.keyId}.key.old`));
  await rm(join(dir, RETIRED_DIR, `${current.keyId}.key.old`), { force: true });
  await rm(join(dir, PUBLIC_KEY_FILE), { force: true });
  const next = await loadOrCreateSigningKey(dataDir, log);
  log.warn({ retired: current.keyId, keyId: next.keyId }, 'hub signing key rotated');
  return next;
}

/**
 * Loads `{dataDir}/keys/signing-key.pem`, creating an ed25519 key (mode 0600, written with
 * `wx` so two starts never race to different keys) on first start. The key is kept across
 * restarts; to rotate it, move the files away, restart, and provision agents with both public
 * keys until every manifest in use is re-signed (agents trust a set: `delivery.trustedKeys`).
 */
export async function loadOrCreateSigningKey(dataDir: string, log: Logger): Promise<HubSigningKey> {
  const dir = join(dataDir, KEYS_DIR);
  const privatePath = join(dir, SIGNING_KEY_FILE);
  const existing = await readPem(privatePath);
  if (existing !== undefined) return fromPrivatePem(existing, privatePath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keys = generateSigningKeyPair();
  try {
    await writeFile(privatePath, keys.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readPem(privatePath);
      if (raced !== undefined) return fromPrivatePem(raced, privatePath);
    }
    throw err;
  }
  await chmod(privatePath, 0o600);
  await writeFile(join(dir, PUBLIC_KEY_FILE), keys.publicKeyPem, { mode: 0o644 });
  const keyId = keyIdOf(keys.publicKeyPem);
  log.info({ keyId, path: privatePath }, 'created the hub signing key (ed25519, mode 0600)');
  return { keys, keyId };
}

async function readPem(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function fromPrivatePem(privateKeyPem: string, path: string): HubSigningKey {
  let publicKeyPem: string;
  try {
    const key = createPrivateKey(privateKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`it is a ${key.asymmetricKeyType} key`);
    publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  } catch (err) {
    throw new OutpostError(
      'HUB_CONFIG_INVALID',
      `signing key ${path} is not an ed25519 private key (${(err as Error).message}); fix or move it away`,
    );
  }
  return { keys: { privateKeyPem, publicKeyPem }, keyId: keyIdOf(publicKeyPem) };
}
