import { readFile } from 'node:fs/promises';
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

/**
 * Makes nats-server nodes on this machine reread their config (SIGHUP, what
 * `nats-server --signal reload=PIDFILE` sends): each entry is a PID file or a PID. A node's
 * reload is atomic: it parses the whole config first and keeps the old one when that fails.
 * Answers the PIDs signalled; an entry that names no live process is reported in `failed`.
 */
export async function signalNatsReload(
  targets: readonly string[],
): Promise<{ signalled: number[]; failed: string[] }> {
  const signalled: number[] = [];
  const failed: string[] = [];
  for (const target of targets) {
    try {
      const text = /^\d+$/.test(target) ? target : (await readFile(target, 'utf8')).trim();
      const pid = Number(text);
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no PID in ${target}`);
      process.kill(pid, 'SIGHUP');
      signalled.push(pid);
    } catch (err) {
      failed.push(`${target}: ${(err as Error).message}`);
    }
  }
  return { signalled, failed };
}
