import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ensurePrivateDir, OutpostError } from '../shared/index.js';
import { generateToken } from './secrets.js';

/** File under the data dir that holds the admin token when the config does not set one. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The admin API's bearer token: `configured` when given; else the content of
 * `{dataDir}/admin-token`; else a new random token written there with mode 0600. Logs that
 * it created the file, never the token.
 */
export async function resolveAdminToken(
  dataDir: string,
  configured: string | undefined,
  logger: Logger,
): Promise<string> {
  if (configured !== undefined) return configured;
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  const existing = await readToken(path);
  if (existing !== undefined) return existing;
  ensurePrivateDir(dataDir);
  const token = generateToken();
  try {
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readToken(path);
      if (raced !== undefined) return raced;
    }
    throw err;
  }
  logger.info({ path }, 'created a new admin token file (mode 0600); read the token from it');
  return token;
}

async function readToken(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const token = text.trim();
  if (token.length < 16) {
    throw new OutpostError(
      'HUB_CONFIG_INVALID',
      `admin token file ${path} holds fewer than 16 characters; fix or delete it`,
    );
  }
  return token;
}
