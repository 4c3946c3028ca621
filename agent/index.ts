/**
 * The Outpost agent: the on-device runtime (docs/architecture.md "Roles"). `createAgent` is the one
 * factory; `main` (cli/) only wires config and signals to it.
 */
export type { CreateAgentOptions } from './agent.js';
export { createAgent } from './agent.js';
export type { AgentConfig, AgentConfigInput } from './config.js';
export { AGENT_ENV_PREFIX, AgentConfigSchema } from './config.js';
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
export { confirmHealthWhenReady, type HealthVerdict, healthOf } from './update/health.js';
export { HEALTHY_MESSAGE, Launcher, type LauncherOptions, type Running } from './update/launcher.js';
export { SLOT_NAMES, type SlotName, type SlotState, Slots } from './update/slots.js';
export { StoreBackup, schemaVersion } from './update/store-backup.js';
export { AGENT_VERSION } from './version.js';
