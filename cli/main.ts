#!/usr/bin/env node
import { configFromFlags } from '../shared/index.js';
import { CliError, EXIT } from './exit-codes.js';

const USAGE = `outpost — edge ML runtime with cloud sync

Usage: outpost <command> [options]

Commands:
  demo                 hub + 3 agents as processes: enroll, sync, crash one, prove exactly-once
  hub                  run the hub (HTTP API, embedded MQTT broker, SQLite)
  agent                run the on-device agent
  agent install        write a systemd unit + env file for the agent (--dry-run prints them)
  devices add|list     enroll and list devices through the hub's admin API
  models install|list|activate|infer   models on a device, through its agent's local API
  models quantize      int8/fp16 variants of an ONNX model, with size, speed and accuracy
  rollouts create|list|status|pause|resume|abort|rollback   progressive rollouts with gates
  fl simulate          federated learning on MNIST in-process (strategies, IID/non-IID)
  fl start|status|stop federated tasks on the hub's devices (rounds, evaluation, closed loop)

Run 'outpost <command> --help' for a command's options and examples.
Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 hub or agent unreachable.`;

/**
 * The help text of a command, from its module. Each command's module (and what it pulls in:
 * the hub, the agent, fastify, mqtt, pg, the inference stacks) is imported only when that
 * command runs, so a short command such as `outpost devices list` starts fast.
 */
const HELP: Record<string, () => Promise<string>> = {
  demo: async () => (await import('./commands/demo.js')).DEMO_HELP,
  hub: async () => (await import('./commands/hub.js')).HUB_HELP,
  agent: async () => (await import('./commands/agent.js')).AGENT_HELP,
  devices: async () => (await import('./commands/devices.js')).DEVICES_HELP,
  models: async () => (await import('./commands/models.js')).MODELS_HELP,
  rollouts: async () => (await import('./commands/rollouts.js')).ROLLOUTS_HELP,
  fl: async () => (await import('./commands/fl.js')).FL_HELP,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  // `-o FILE` is `--output FILE` (models quantize).
  const { config: flags, positionals } = configFromFlags(rest.map((a) => (a === '-o' ? '--output' : a)));
  if (flags.help === true || rest.includes('-h')) {
    const sub =
      command === 'agent' && positionals[0] === 'install'
        ? (await import('./commands/agent-install.js')).AGENT_INSTALL_HELP
        : command === 'hub' && positionals[0] === 'broker-config'
          ? (await import('./commands/hub-broker-config.js')).HUB_BROKER_CONFIG_HELP
          : undefined;
    console.log(sub ?? (await HELP[command]?.()) ?? USAGE);
    return;
  }
  switch (command) {
    case 'demo':
      return (await import('./commands/demo.js')).runDemoCommand(flags);
    case 'hub':
      if (positionals[0] === 'broker-config')
        return (await import('./commands/hub-broker-config.js')).runBrokerConfigCommand(flags);
      return (await import('./commands/hub.js')).runHubCommand(flags);
    case 'agent':
      if (positionals[0] === 'install')
        return (await import('./commands/agent-install.js')).runAgentInstallCommand(flags);
      return (await import('./commands/agent.js')).runAgentCommand(flags);
    case 'devices':
      return (await import('./commands/devices.js')).runDevicesCommand(positionals, flags);
    case 'models':
      return (await import('./commands/models.js')).runModelsCommand(positionals, flags);
    case 'rollouts':
      return (await import('./commands/rollouts.js')).runRolloutsCommand(positionals, flags);
    case 'fl':
      return (await import('./commands/fl.js')).runFlCommand(positionals, flags);
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`, EXIT.USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    console.error(`outpost: ${err.message}`);
    process.exitCode = err.exitCode;
  } else {
    console.error('outpost: unexpected error:', err);
    process.exitCode = EXIT.FAILED;
  }
});
