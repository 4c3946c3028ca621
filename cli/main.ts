#!/usr/bin/env node
import { OUTPOST_VERSION } from '../shared/index.js';
import { parseCommandArgs } from './args.js';
import { COMMAND_FLAGS, COMMAND_SHORTS } from './command-flags.js';
import { COMPLETION_HELP, runCompletionCommand } from './completion.js';
import { CliError, EXIT } from './exit-codes.js';

/** The flag table's key: `hub broker-config` and `agent install` have flags of their own. */
function commandKey(command: string, rest: readonly string[]): string {
  const sub = rest.find((a) => !a.startsWith('-'));
  if (command === 'hub' && sub === 'broker-config') return 'hub broker-config';
  if (command === 'hub' && sub === 'ready') return 'hub ready';
  if (command === 'agent' && sub === 'install') return 'agent install';
  if (command === 'agent' && sub === 'join') return 'agent join';
  if (command === 'agent' && sub === 'status') return 'agent status';
  if (command === 'agent' && sub === 'launch') return 'agent launch';
  if (command === 'doctor') return sub === 'agent' ? 'doctor agent' : 'doctor hub';
  return command;
}

/** `outpost hub`/`outpost agent` take no arguments: a stray word is a typo, not a process to start. */
function noPositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0)
    throw new CliError(
      `unknown ${command} subcommand or argument ${JSON.stringify(positionals[0])}\nRun 'outpost ${command} --help' for its usage.`,
      EXIT.USAGE,
    );
}

/**
 * Each command's module (and what it pulls in: the hub, the agent, fastify, mqtt, pg, the
 * inference stacks) is imported only when that command runs, so a short command such as
 * `outpost devices list` or `outpost --version` starts fast.
 */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // Help texts live in the command modules: loaded only when asked for.
  const help = () => import('./help.js');
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log((await help()).USAGE);
    return;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    console.log(OUTPOST_VERSION);
    return;
  }
  if (command === 'completion') {
    if (rest.includes('--help') || rest.includes('-h')) console.log(COMPLETION_HELP);
    else runCompletionCommand(rest);
    return;
  }
  const key = commandKey(command, rest);
  const specs = COMMAND_FLAGS[key];
  if (specs === undefined)
    throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${(await help()).USAGE}`, EXIT.USAGE);
  const { flags, positionals } = parseCommandArgs(rest, specs, key, COMMAND_SHORTS[key]);
  if (flags.help === true) {
    const { HELP, USAGE } = await help();
    console.log(HELP[key] ?? HELP[command] ?? USAGE);
    return;
  }
  delete flags.help;
  switch (command) {
    case 'doctor':
      return (await import('./commands/doctor.js')).runDoctorCommand(positionals, flags);
    case 'demo':
      return (await import('./commands/demo.js')).runDemoCommand(flags);
    case 'hub':
      if (positionals[0] === 'broker-config')
        return (await import('./commands/hub-broker-config.js')).runBrokerConfigCommand(flags);
      if (positionals[0] === 'ready')
        return (await import('./commands/hub-ready.js')).runHubReadyCommand(flags);
      noPositionals('hub', positionals);
      return (await import('./commands/hub.js')).runHubCommand(flags);
    case 'agent':
      if (positionals[0] === 'install')
        return (await import('./commands/agent-install.js')).runAgentInstallCommand(flags);
      if (positionals[0] === 'join')
        return (await import('./commands/agent-join.js')).runAgentJoinCommand(positionals, flags);
      if (positionals[0] === 'status')
        return (await import('./commands/agent-status.js')).runAgentStatusCommand(flags);
      if (positionals[0] === 'launch') {
        noPositionals('agent launch', positionals.slice(1));
        return (await import('./commands/agent-launch.js')).runAgentLaunchCommand(flags, rest);
      }
      noPositionals('agent', positionals);
      return (await import('./commands/agent.js')).runAgentCommand(flags);
    case 'devices':
      return (await import('./commands/devices.js')).runDevicesCommand(positionals, flags);
    case 'models':
      return (await import('./commands/models.js')).runModelsCommand(positionals, flags);
    case 'rollouts':
      return (await import('./commands/rollouts.js')).runRolloutsCommand(positionals, flags);
    case 'agents':
      return (await import('./commands/agents.js')).runAgentsCommand(positionals, flags);
    case 'fl':
      return (await import('./commands/fl.js')).runFlCommand(positionals, flags);
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${(await help()).USAGE}`, EXIT.USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    console.error(`outpost: ${err.message}`);
    process.exitCode = err.exitCode;
  } else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    // A configuration problem: name the port. Exit now, as listeners already open would hold
    // the process.
    const { port, address } = err as { port?: number; address?: string };
    console.error(
      `outpost: port ${port} on ${address} is in use by another process; choose another port (e.g. --http.port, --mqtt.port, --api.port)`,
    );
    process.exit(EXIT.USAGE);
  } else {
    console.error('outpost: unexpected error:', err);
    process.exitCode = EXIT.FAILED;
  }
});
