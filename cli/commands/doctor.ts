import type { ConfigObject } from '../../shared/index.js';
import { report } from '../doctor/checks.js';
import { agentChecks, hubChecks } from '../doctor/doctor.js';
import { CliError, EXIT } from '../exit-codes.js';

export const DOCTOR_HELP = `outpost doctor hub [hub settings]
outpost doctor agent [agent settings]

Checks what a hub or an agent with these settings (the same --config, env and flags as
'outpost hub' / 'outpost agent'; an agent reads DATA_DIR/agent.json as it would) needs: a valid
config, data dir permissions and free space, its ports, the broker (reachable, credentials
accepted), trusted keys, clock skew against the hub, engines this host offers (CUDA, Vulkan)
and store integrity. Prints ok, warn or fail for each with the fix; exits 1 when any failed.
Safe beside a running hub or agent: it never starts one and reads the store read-only.

Examples:
  outpost doctor hub --data-dir /var/lib/outpost-hub
  outpost doctor agent --data-dir /var/lib/outpost-agent`;

/** `outpost doctor hub|agent`. */
export async function runDoctorCommand(positionals: readonly string[], flags: ConfigObject): Promise<void> {
  const [target] = positionals;
  const { json: _json, ...settings } = flags;
  if (target === 'hub') process.exitCode = report(await hubChecks(settings));
  else if (target === 'agent') process.exitCode = report(await agentChecks(settings));
  else throw new CliError(`doctor needs hub or agent\n\n${DOCTOR_HELP}`, EXIT.USAGE);
}
