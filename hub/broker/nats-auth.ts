import bcrypt from 'bcryptjs';
import { DISABLED_PREFIX } from '../store/device-lifecycle-types.js';
import type { HubStore } from '../store/types.js';
import { bcryptPart } from './broker-hashes.js';
import { writeNatsAuth } from './nats-config.js';

/** Options of {@link writeNatsBrokerAuth}. */
export interface NatsBrokerAuthOptions {
  /** Output directory (`auth.conf`). */
  dir: string;
  /** The hub's NATS user and the bcrypt hash of its password (see {@link hubPasswordHash}). */
  hub: { username: string; hash: string };
}

/** What {@link writeNatsBrokerAuth} wrote. */
export interface NatsBrokerAuthWritten {
  path: string;
  /** Device users written. */
  devices: number;
  /**
   * Enabled devices left out: enrolled before NATS support (no bcrypt hash yet: one
   * `rotate-secret` adds it) or with a `.` in their id (nats-server 2.9 refuses `.` in MQTT topics).
   */
  skipped: string[];
}

/**
 * Writes the NATS authorization include file from the store: one user per enabled device
 * (disabled and removed ones are left out, so a reload refuses them and cuts their sessions)
 * plus the hub user.
 */
export async function writeNatsBrokerAuth(
  store: HubStore,
  options: NatsBrokerAuthOptions,
): Promise<NatsBrokerAuthWritten> {
  const devices: Array<{ deviceId: string; hash: string }> = [];
  const skipped: string[] = [];
  for (const d of await store.listBrokerHashes()) {
    if (d.hash.startsWith(DISABLED_PREFIX)) continue;
    const hash = bcryptPart(d.hash);
    if (hash === undefined || d.deviceId.includes('.')) skipped.push(d.deviceId);
    else devices.push({ deviceId: d.deviceId, hash });
  }
  const path = await writeNatsAuth(options.dir, { hub: options.hub, devices });
  return { path, devices: devices.length, skipped };
}

/** bcrypt cost of the hub's NATS password hash (an operator's choice of password: stretched). */
const HUB_BCRYPT_COST = 11;

/** The bcrypt hash of the hub's broker password, for `auth.conf`. */
export function hubPasswordHash(password: string): Promise<string> {
  return bcrypt.hash(password, HUB_BCRYPT_COST);
}
