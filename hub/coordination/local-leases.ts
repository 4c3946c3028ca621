import { randomBytes } from 'node:crypto';
import type { Leases } from './types.js';

/**
 * Leases of a hub that cannot have replicas (SQLite: one process owns the file): this hub
 * always holds every lease, with fence 1.
 */
export function localLeases(): Leases {
  const holder = `local-${randomBytes(4).toString('hex')}`;
  let closed = false;
  return {
    holder,
    isLeader: async () => !closed,
    fence: () => (closed ? undefined : 1),
    run: async (_name, fn) => (closed ? undefined : fn(1)),
    close: async () => {
      closed = true;
    },
  };
}
