import { COMMAND_FLAGS } from './command-flags.js';
import { CliError, EXIT } from './exit-codes.js';

export const COMPLETION_HELP = `outpost completion bash|zsh

Prints a shell completion script for commands, subcommands and every command's flags.

Examples:
  outpost completion bash > /etc/bash_completion.d/outpost
  outpost completion zsh > "\${fpath[1]}/_outpost"`;

const SUBCOMMANDS: Record<string, string[]> = {
  hub: ['broker-config', 'ready'],
  agent: ['install', 'join', 'status', 'launch'],
  agents: ['push', 'bundle', 'list', 'show', 'delete'],
  devices: ['add', 'list', 'show', 'command', 'disable', 'enable', 'rotate-secret', 'remove'],
  models: [
    'install',
    'list',
    'activate',
    'infer',
    'quantize',
    'push',
    'show',
    'delete',
    'keys',
    'rotate-key',
  ],
  rollouts: ['create', 'list', 'status', 'pause', 'resume', 'abort', 'rollback'],
  fl: ['simulate', 'start', 'status', 'stop'],
  doctor: ['hub', 'agent'],
};

function flagWords(key: string): string {
  return [...(COMMAND_FLAGS[key] ?? []).map((f) => `--${f.name}`), '--help'].join(' ');
}

/** A bash completion function; zsh runs it through bashcompinit. */
function bashScript(): string {
  const commands = [
    'demo',
    'hub',
    'agent',
    'agents',
    'devices',
    'models',
    'rollouts',
    'fl',
    'doctor',
    'completion',
  ];
  // "$cmd $sub": a subcommand with flags of its own first, then the command's for any other.
  const keys = Object.keys(COMMAND_FLAGS);
  const cases = [
    ...keys.filter((k) => k.includes(' ')).map((k) => `    "${k}") flags="${flagWords(k)}" ;;`),
    ...keys.filter((k) => !k.includes(' ')).map((k) => `    "${k} "*) flags="${flagWords(k)}" ;;`),
  ].join('\n');
  const subs = Object.entries(SUBCOMMANDS)
    .map(([cmd, list]) => `    ${cmd}) subs="${list.join(' ')}" ;;`)
    .join('\n');
  return `# outpost completion (bash): source this file or put it in /etc/bash_completion.d/
_outpost() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" sub="" flags="" subs=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.join(' ')} --version --help" -- "$cur")); return
  fi
  case "$cmd" in
${subs}
  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ "\${cur#-}" = "$cur" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur")); return
  fi
  [ "$COMP_CWORD" -ge 2 ] && sub="\${COMP_WORDS[2]}"
  case "$cmd $sub" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -o default -F _outpost outpost
`;
}

/** `outpost completion bash|zsh`. */
export function runCompletionCommand(positionals: readonly string[]): void {
  const shell = positionals[0];
  if (shell === 'bash') console.log(bashScript());
  else if (shell === 'zsh')
    console.log(`#compdef outpost\nautoload -U +X bashcompinit && bashcompinit\n${bashScript()}`);
  else throw new CliError(`completion needs bash or zsh\n\n${COMPLETION_HELP}`, EXIT.USAGE);
}
