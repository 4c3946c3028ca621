import {
  AGENT_ENV_PREFIX,
  type AgentConfig,
  AgentConfigSchema,
  type CreateAgentOptions,
  confirmHealthWhenReady,
  createAgent,
  LAUNCHER_ENV,
  type LauncherContext,
} from '../../agent/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { lockDataDir } from '../data-dir-lock.js';
import { loadConfig } from '../load-config.js';
import { announceReady, closeOnSignals } from '../process-signals.js';
import { joinedConfigPath } from './agent-join.js';

export const AGENT_HELP = `outpost agent --device-id ID [--config FILE] [--hub.mqtt-url URL] [--data-dir DIR] [--api.port N] [--json]
outpost agent launch [the same options]      (runs the agent under the update launcher)
outpost agent join TOKEN [--data-dir DIR]   (writes DIR/agent.json from 'devices add' output)
outpost agent install --device-id ID [--user USER] [--dry-run] ...   (see outpost agent install --help)

Runs the on-device agent. Without --config it reads DATA_DIR/agent.json when present
(written by 'outpost agent join'). The device secret comes from the config file or from env
OUTPOST_AGENT_DEVICE_SECRET (keep it off the command line, where ps shows it).
Every setting can also come from env OUTPOST_AGENT_* (__ nests). --json prints the start-up
line as one JSON object. GET /metrics on the local API serves Prometheus metrics.
'agent launch' is what the systemd unit runs: the launcher starts the agent from one of two
install slots under DATA_DIR/update and installs the releases the hub rolls out over the air
(downloaded and verified by the agent, checked again, switched atomically, reverted when the
new release does not confirm its health within update.confirmTimeoutMs; docs/agent-updates.md).
A container (env OUTPOST_UPDATED_BY=image) is updated by its image instead.

Examples:
  outpost agent join outpost-join-1.eyJ2Ijo... && outpost agent
  OUTPOST_AGENT_DEVICE_SECRET=... outpost agent --device-id jetson-01 --hub.mqtt-url mqtt://hub.example:1883
  outpost agent --config /etc/outpost/agent.json --durability power-safe`;

/** The agent config from flags, env and a config file (DATA_DIR/agent.json after `agent join`). */
export function loadAgentConfig(settings: ConfigObject): AgentConfig {
  // After `outpost agent join`, DATA_DIR/agent.json holds everything: no flag is needed.
  const joined = settings.config === undefined ? joinedConfigPath(settings) : undefined;
  return loadConfig(AgentConfigSchema, AGENT_ENV_PREFIX, joined ? { ...settings, config: joined } : settings);
}

function jsonEnv<T>(name: string): T | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** How this process is updated: by the launcher that started it (IPC), by its image, or not at all. */
function updateMode(): NonNullable<CreateAgentOptions['update']> {
  const slot = process.env[LAUNCHER_ENV.slot];
  if (slot && process.send) {
    const launcher: LauncherContext = {
      slot,
      failure: jsonEnv(LAUNCHER_ENV.failure),
      trial: jsonEnv(LAUNCHER_ENV.trial),
      crashes: Number(process.env[LAUNCHER_ENV.crashes] ?? 0) || 0,
      send: (message) => process.send?.(message),
      onMessage: (handler) => process.on('message', handler),
    };
    return { managedBy: 'launcher', launcher };
  }
  return { managedBy: process.env.OUTPOST_UPDATED_BY === 'image' ? 'image' : 'none' };
}

/** `outpost agent`: runs until SIGINT/SIGTERM. */
export async function runAgentCommand(flags: ConfigObject): Promise<void> {
  const { json, ...settings } = flags;
  const config = loadAgentConfig(settings);
  lockDataDir(config.dataDir, `outpost agent ${config.deviceId}`);
  const agent = await createAgent(config, { update: updateMode() });
  if (json === true)
    console.log(JSON.stringify({ deviceId: agent.deviceId, api: agent.api.url, hub: config.hub.mqttUrl }));
  else console.log(`outpost agent ${agent.deviceId}: local API ${agent.api.url}  hub ${config.hub.mqttUrl}`);
  announceReady({ pid: process.pid, deviceId: agent.deviceId, api: agent.api.url });
  // Started by the launcher from a slot (agent/update/launcher.ts): confirm health to it.
  const stopConfirming =
    process.env.OUTPOST_SLOT && process.send
      ? confirmHealthWhenReady(agent, (message) => process.send?.(message))
      : undefined;
  closeOnSignals(
    () => {
      stopConfirming?.();
      return agent.close();
    },
    (err) => console.error('outpost agent: error while closing:', err),
  );
}
