/**
 * The Outpost hub (docs/architecture.md "Roles"): enrolls devices, runs the embedded MQTT broker with
 * per-device ACLs, ingests device events exactly once and serves the admin HTTP API.
 */

export { writeBrokerAuth } from './broker/mosquitto-auth.js';
export type { HubBus, MessageHandler, MessageOrigin, PublishOptions, SessionEnd } from './bus/types.js';
export { HUB_ENV_PREFIX, type HubConfig, type HubConfigInput, HubConfigSchema } from './config.js';
export type { DeviceView, EventView, LaneLedgerView, LedgerView } from './http/views.js';
export { type BuildHubOptions, buildHub, type Hub } from './hub.js';
export type { HubStats } from './stats.js';
export { openHubStore } from './store/open.js';
export { isPostgresHubStore, openPostgresHubStore, type PostgresHubStore } from './store/postgres.js';
export { HUB_DB_FILE, openSqliteHubStore } from './store/sqlite.js';
export type {
  DeviceRecord,
  EventPosition,
  EventQuery,
  HubStore,
  IngestResult,
  NewDevice,
  SkipRange,
  SkipTotal,
  StatusOutcome,
  StatusUpdate,
  StoredEvent,
} from './store/types.js';
