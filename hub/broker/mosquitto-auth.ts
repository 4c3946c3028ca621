import { DISABLED_PREFIX } from '../store/device-lifecycle-types.js';
import type { HubStore } from '../store/types.js';
import { mosquittoPart } from './broker-hashes.js';
import { DEFAULT_LISTENERS, type MosquittoListeners, writeMosquittoFiles } from './mosquitto-config.js';
import { mosquittoHash } from './mosquitto-passwd.js';

/** Options of {@link writeBrokerAuth}. */
export interface BrokerAuthOptions {
  /** Output directory (`passwd`, `acl`, `mosquitto.conf`). */
  dir: string;
  /** The hub's broker user and its password (hashed here; never written in the clear). */
  hub: { username: string; password: string };
  /** Listeners of the generated `mosquitto.conf`; default devices `0.0.0.0:1883`, hub `127.0.0.1:1884`. */
  listeners?: Partial<MosquittoListeners>;
}

/**
 * Writes the external broker's auth files from the store: one `passwd` line
 * per enrolled device (the `$7$` hash stored at enrollment), the hub user's own files, the
 * `%u` ACL and a config with a devices' and a hub listener. Returns the paths and how many devices were written.
 */
export async function writeBrokerAuth(store: HubStore, options: BrokerAuthOptions) {
  // A disabled device's hash is left out: Mosquitto refuses it once it rereads the file.
  const devices = (await store.listBrokerHashes())
    .filter((d) => !d.hash.startsWith(DISABLED_PREFIX))
    .map((d) => ({ deviceId: d.deviceId, hash: mosquittoPart(d.hash) }));
  const hub = { username: options.hub.username, hash: await mosquittoHash(options.hub.password) };
  const listeners = { ...DEFAULT_LISTENERS, ...options.listeners };
  const paths = await writeMosquittoFiles(options.dir, { hub, devices }, listeners);
  return { ...paths, devices: devices.length };
}
