import { execFileSync } from 'node:child_process';

/** Descriptors the bench process needs besides one socket per device (hubs' pipes, files, HTTP). */
const OTHER_FILES = 512;

/** This process's limit on open files (`ulimit -n`); undefined where it cannot be read. */
export function openFilesLimit(): number | undefined {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a fleet this process cannot hold: every simulated device is one socket here, so
 * `devices` plus the bench's other descriptors must fit under `ulimit -n`; past it the run
 * would fail part way with EMFILE.
 */
export function checkOpenFiles(devices: number, limit = openFilesLimit()): void {
  if (limit === undefined || devices + OTHER_FILES <= limit) return;
  throw new Error(
    `fleet: --devices ${devices} needs about ${devices + OTHER_FILES} open files in this process, ` +
      `and ulimit -n is ${limit} here: raise it (ulimit -n ${devices + OTHER_FILES}, within the hard ` +
      `limit ulimit -Hn) or run fewer devices`,
  );
}
