import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

/** Name of the lock file in a data dir; it holds the owner's pid and what it runs. */
export const LOCK_FILE = 'outpost.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data dir for this process: `DIR/outpost.lock` created exclusively with our pid. A
 * lock whose process still runs is a usage error naming that pid (two processes on one store
 * corrupt it); one left by a dead process is taken over. Released when this process exits.
 */
export function lockDataDir(dataDir: string, what: string): void {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${what}\n`);
      closeSync(fd);
      process.once('exit', () => {
        try {
          if (readFileSync(file, 'utf8').startsWith(`${process.pid} `)) unlinkSync(file);
        } catch {
          // Already gone.
        }
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = '';
    try {
      holder = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const pid = Number(holder.split(' ')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
      throw new CliError(
        `data dir ${dir} is in use by pid ${pid} (${holder.split(' ').slice(1).join(' ') || 'outpost'}); stop it or use another --data-dir`,
        EXIT.USAGE,
      );
    unlinkSync(file);
  }
  throw new CliError(`cannot lock data dir ${dir} (${file})`, EXIT.USAGE);
}
