import { type Peer } from '../../test/helpers/peer.js';
/** The nginx binary (the baseline of `npm run bench -- delivery`): Debian's, or `OUTPOST_BENCH_NGINX`. */
export declare function nginxPeer(): Peer;
/** A free loopback port (listened on, then released). */
export declare function freePort(): Promise<number>;
/** A running nginx serving `root` on loopback. */
export interface Nginx {
  url: string;
  stop(): Promise<void>;
}
/**
 * Starts nginx in the foreground (`daemon off`) with a generated config in `workDir`: one
 * worker per core, sendfile, no access log, serving the files of `root` on a free port.
 * Resolves once it answers HTTP.
 */
export declare function startNginx(bin: string, workDir: string, root: string): Promise<Nginx>;
