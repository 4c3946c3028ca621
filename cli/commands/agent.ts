import {
  AGENT_ENV_PREFIX,
  AgentConfigSchema,
  confirmHealthWhenReady,
  createAgent,
} from '../../agent/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { lockDataDir } from '../data-dir-lock.js';
import { loadConfig } from '../load-config.js';
import { announceReady, closeOnSignals } from '../process-signals.js';
import { joinedConfigPath } from './agent-join.js';

export const AGENT_HELP = `outpost agent --device-id ID [--config FILE] [--hub.mqtt-url URL] [--data-dir DIR] [--api.port N] [--json]
outpost agent join TOKEN [--data-dir DIR]   (writes DIR/agent.json from 'devices add' output)
outpost agent install --device-id ID [--user USER] [--dry-run] ...   (see outpost agent install --help)

Runs the on-device agent. Without --config it reads DATA_DIR/agent.json when present
(written by 'outpost agent join'). The device secret comes from the config file or from env
OUTPOST_AGENT_DEVICE_SECRET (keep it off the command line, where ps shows it).
Every setting can also come from env OUTPOST_AGENT_* (__ nests). --json prints the start-up
line as one JSON object. GET /metrics on the local API serves Prometheus metrics.

Examples:
  outpost agent join outpost-join-1.eyJ2Ijo... && outpost agent
  OUTPOST_AGENT_DEVICE_SECRET=... outpost agent --device-id jetson-01 --hub.mqtt-url mqtt://hub.example:1883
  outpost agent --config /etc/outpost/agent.json --durability power-safe`;

/** `outpost agent`: runs until SIGINT/SIGTERM. */
export async function runAgentCommand(flags: ConfigObject): Promise<void> {
  const { json, ...settings } = flags;
  // After `outpost agent join`, DATA_DIR/agent.json holds everything: no flag is needed.
  const joined = settings.config === undefined ? joinedConfigPath(settings) : undefined;
  const config = loadConfig(
    AgentConfigSchema,
    AGENT_ENV_PREFIX,
    joined ? { ...settings, config: joined } : settings,
  );
  lockDataDir(config.dataDir, `outpost agent ${config.deviceId}`);
  const agent = await createAgent(config);
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
