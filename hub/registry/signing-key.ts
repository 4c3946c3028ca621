import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generateSigningKeyPair, keyIdOf, OutpostError, type SigningKeyPair } from '../../shared/index.js';

/** Directory under the data dir holding the hub's signing key (issue 5 item 1). */
export const KEYS_DIR = 'keys';
/** The ed25519 private key (PKCS#8 PEM, mode 0600). */
export const SIGNING_KEY_FILE = 'signing-key.pem';
/** Its public key (SPKI PEM), provisioned on agents. */
export const PUBLIC_KEY_FILE = 'signing-key.pub.pem';

/** The hub's signing key in force. */
export interface HubSigningKey {
  keys: SigningKeyPair;
  /** `keyIdOf(publicKeyPem)`: 16 hex digits, named by every signature. */
  keyId: string;
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
