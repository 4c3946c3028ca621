import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/**
 * Creates `dir` (and its missing parents) owner-only, mode 0700, whatever the umask: a data
 * dir holds secrets (databases, tokens, keys), so nobody else on the machine may list or read
 * it. A directory that already exists is left as the operator made it.
 */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Creates `file` empty with mode 0600 when missing, and tightens it to 0600 when it exists,
 * before SQLite opens it: SQLite gives its `-wal` and `-shm` files the database file's mode,
 * so all three end up owner-only.
 */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}
