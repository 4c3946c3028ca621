import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AGENT_BUNDLE_INFO_FILE, AgentBundleInfoSchema, DEFAULT_BUNDLE_ENTRY } from '../../shared/index.js';
import { Launcher } from './launcher.js';
import { Slots } from './slots.js';
import { StoreBackup } from './store-backup.js';
import { STORE_BACKUP_FILE, updateDir } from './updater.js';

/** What {@link startLauncher} needs. */
export interface LaunchOptions {
  /** The agent's data dir: slots, downloads and the store backup live in `DATA_DIR/update`. */
  dataDir: string;
  /** Keys bundles are verified with again before they are installed. */
  trustedKeys: readonly string[];
  /** How long a new release has to confirm its health, ms (`update.confirmTimeoutMs`). */
  confirmMs: number;
  /** The installed package the launcher itself runs from: the base slot's release. */
  base: { version: string; main: string };
  /** Arguments of every agent started (`agent --config …`: the launcher's own, less `launch`). */
  agentArgs: readonly string[];
  log: Logger;
  /** Messages agents send besides the update protocol (their `ready` announcements). */
  onMessage?: (message: unknown) => void;
  restartDelayMs?: number;
}

/** The entry point of an unpacked bundle: its `outpost-bundle.json` says, else the npm layout. */
export function bundleEntry(slotDir: string): string {
  try {
    const info = AgentBundleInfoSchema.parse(
      JSON.parse(readFileSync(join(slotDir, AGENT_BUNDLE_INFO_FILE), 'utf8')),
    );
    return join(slotDir, info.entry);
  } catch {
    return join(slotDir, DEFAULT_BUNDLE_ENTRY);
  }
}

/**
 * Starts the launcher of `outpost agent launch` (docs/agent-updates.md): the two slots under
 * `DATA_DIR/update` (slot `a` is the installed package until a bundle replaces it), the store
 * backup beside them, and the agent of the current slot.
 */
export function startLauncher(o: LaunchOptions): { launcher: Launcher; slots: Slots } {
  const root = updateDir(o.dataDir);
  const slots = new Slots(root);
  slots.init(o.base.version, { base: true });
  const launcher = new Launcher({
    slots,
    entry: (slotDir, slot, state) => ({
      file: state.base === slot ? o.base.main : bundleEntry(slotDir),
      args: [...o.agentArgs],
    }),
    log: o.log,
    store: new StoreBackup(o.dataDir, join(root, STORE_BACKUP_FILE)),
    install: { trustedKeys: o.trustedKeys, confirmMs: o.confirmMs },
    ...(o.onMessage ? { onMessage: o.onMessage } : {}),
    ...(o.restartDelayMs !== undefined ? { restartDelayMs: o.restartDelayMs } : {}),
  });
  launcher.start();
  return { launcher, slots };
}
