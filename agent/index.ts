/**
 * The Outpost agent: the on-device runtime (docs/architecture.md "Roles"). `createAgent` is the one
 * factory; `main` (cli/) only wires config and signals to it.
 */
export type { CreateAgentOptions } from './agent.js';
export { createAgent } from './agent.js';
export type { AgentConfig, AgentConfigInput } from './config.js';
export { AGENT_ENV_PREFIX, AgentConfigSchema } from './config.js';
export { trustedKeysOf } from './delivery/config.js';
export { backoffDelayMs } from './link/backoff.js';
export { DEFAULT_LANE } from './outbox/event-input.js';
export { AGENT_DB_FILE } from './store/index.js';
export type {
  Agent,
  AgentEvent,
  AgentStatus,
  Enqueued,
  InvalidInboundStats,
  LaneCounters,
  LinkInfo,
} from './types.js';
export { currentPlatform, installBundle, prepareUpdate, verifyBundleFile } from './update/bundle.js';
export { confirmHealthWhenReady, type HealthVerdict, healthOf } from './update/health.js';
export { bundleEntry, type LaunchOptions, startLauncher } from './update/launch.js';
export {
  CONFIRMED_MESSAGE,
  HEALTHY_MESSAGE,
  INSTALL_MESSAGE,
  LAUNCHER_ENV,
  Launcher,
  type LauncherOptions,
  REFUSED_MESSAGE,
  type Running,
  SWITCH_MESSAGE,
} from './update/launcher.js';
export { SLOT_NAMES, type SlotName, type SlotState, Slots } from './update/slots.js';
export type { SalvageReport } from './update/store-backup.js';
export { StoreBackup, schemaVersion } from './update/store-backup.js';
export {
  AgentUpdater,
  INCOMING_DIR,
  type LauncherContext,
  STORE_BACKUP_FILE,
  UPDATE_DIR,
  updateDir,
} from './update/updater.js';
export { AGENT_VERSION } from './version.js';
