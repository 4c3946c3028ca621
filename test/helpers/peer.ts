import { accessSync, constants } from 'node:fs';

/**
 * A program a benchmark compares against (nginx, Mosquitto). Its path comes from the env
 * variable `env` when set (a peer installed elsewhere, or a missing one for tests), else the
 * Debian path `fallback`.
 */
export interface Peer {
  name: string;
  bin: string;
  /** Why the peer cannot run here (a line for the report), or undefined when it can. */
  missing: string | undefined;
}

/** Resolves a peer program and whether it is installed (an executable file). */
export function findPeer(name: string, env: string, fallback: string, install: string): Peer {
  const bin = process.env[env] || fallback;
  try {
    accessSync(bin, constants.X_OK);
    return { name, bin, missing: undefined };
  } catch {
    return {
      name,
      bin,
      missing: `${name} skipped: ${bin} is not installed (${install}, or set ${env} to its path)`,
    };
  }
}

/** nginx, the delivery bench's peer (`OUTPOST_BENCH_NGINX` overrides the path). */
export function nginxPeer(): Peer {
  return findPeer('nginx', 'OUTPOST_BENCH_NGINX', '/usr/sbin/nginx', 'apt-get install nginx-light');
}
