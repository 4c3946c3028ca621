import { execFileSync } from 'node:child_process';
import { CliError, EXIT } from './exit-codes.js';

/** Whether a user exists on this host (per `id -u`). */
export function userExists(user: string): boolean {
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the service user exists: when absent, creates it as a system user without a
 * home or login shell (`useradd --system`), which needs root. Returns whether it was created.
 */
export function ensureServiceUser(user: string, group: string): boolean {
  if (userExists(user)) return false;
  if (process.getuid?.() !== 0)
    throw new CliError(`user ${user} does not exist; run as root to create it, or pass --user`, EXIT.FAILED);
  const args = ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin'];
  if (group === user) args.push('--user-group');
  else args.push('--gid', group);
  try {
    execFileSync('useradd', [...args, user], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    throw new CliError(`cannot create user ${user}: ${stderr}`, EXIT.FAILED);
  }
  return true;
}
