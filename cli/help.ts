import { AGENT_HELP } from './commands/agent.js';
import { AGENT_INSTALL_HELP } from './commands/agent-install.js';
import { AGENT_JOIN_HELP } from './commands/agent-join.js';
import { AGENT_STATUS_HELP } from './commands/agent-status.js';
import { AGENTS_HELP } from './commands/agents.js';
import { DEMO_HELP } from './commands/demo.js';
import { DEVICES_HELP } from './commands/devices.js';
import { DOCTOR_HELP } from './commands/doctor.js';
import { FL_HELP } from './commands/fl.js';
import { HUB_HELP } from './commands/hub.js';
import { HUB_BROKER_CONFIG_HELP } from './commands/hub-broker-config.js';
import { HUB_READY_HELP } from './commands/hub-ready.js';
import { MODELS_HELP } from './commands/models.js';
import { ROLLOUTS_HELP } from './commands/rollouts.js';
import { COMPLETION_HELP } from './completion.js';

/** What `outpost --help` prints. */
export const USAGE = `outpost — edge ML runtime with cloud sync

Usage: outpost <command> [options]
       outpost --version

Commands:
  demo                 hub + 3 agents as processes: enroll, sync, crash one, prove exactly-once
  hub                  run the hub (HTTP API, embedded MQTT broker, SQLite)
  hub ready            wait for a hub's /readyz (store and broker ready)
  agent                run the on-device agent
  agent launch         run the agent under its update launcher (what the systemd unit runs)
  agent status         a running agent's status through its local API (never starts one)
  agent join TOKEN     write the agent's config from a join token ('devices add' prints it)
  agent install        write a systemd unit + env file for the agent (--dry-run prints them)
  devices add|list|disable|enable|rotate-secret|remove   devices through the hub's admin API
  models install|list|activate|infer   models on a device, through its agent's local API
  models quantize      int8/fp16 variants of an ONNX model, with size, speed and accuracy
  agents push|bundle|list|show|delete   agent releases for over-the-air updates
  rollouts create|list|status|pause|resume|abort|rollback   progressive rollouts with gates
  fl simulate          federated learning on MNIST in-process (strategies, IID/non-IID)
  fl start|status|stop federated tasks on the hub's devices (rounds, evaluation, closed loop)
  completion bash|zsh  a shell completion script for commands and flags
  doctor hub|agent     check config, data dir, ports, broker, keys, clock, engines, store

Run 'outpost <command> --help' for a command's options and examples.
Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 hub or agent unreachable.`;

/** Each command's `--help` text, by command (and subcommand). */
export const HELP: Record<string, string> = {
  completion: COMPLETION_HELP,
  doctor: DOCTOR_HELP,
  'agent install': AGENT_INSTALL_HELP,
  'agent join': AGENT_JOIN_HELP,
  'agent status': AGENT_STATUS_HELP,
  'hub broker-config': HUB_BROKER_CONFIG_HELP,
  'hub ready': HUB_READY_HELP,
  demo: DEMO_HELP,
  hub: HUB_HELP,
  agent: AGENT_HELP,
  'agent launch': AGENT_HELP,
  agents: AGENTS_HELP,
  devices: DEVICES_HELP,
  models: MODELS_HELP,
  rollouts: ROLLOUTS_HELP,
  fl: FL_HELP,
};

/** docs/cli.md: the top-level usage and every command's help, as `--help` prints them. */
export function renderCliReference(): string {
  const sections = Object.keys(HELP)
    .sort()
    .map((key) => `## outpost ${key}\n\n\`\`\`text\n${HELP[key]}\n\`\`\`\n`);
  return `# outpost command reference\n\nGenerated from the commands' \`--help\` output by \`npm run docs:cli\`; a test fails when it\ndrifts. Every command rejects an unknown option with exit 2 and the nearest known one.\n\n\`\`\`text\n${USAGE}\n\`\`\`\n\n${sections.join('\n')}`;
}
