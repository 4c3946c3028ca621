import type { ConfigObject } from '../shared/index.js';
import { CliError, EXIT } from './exit-codes.js';
import type { HubEndpoint } from './hub-client.js';

/**
 * Client commands read their settings from flags, then env `OUTPOST_CLI_*`: a namespace of its
 * own, so that exporting them never feeds a key into `outpost hub` (env `OUTPOST_HUB_*`) or
 * `outpost agent` (env `OUTPOST_AGENT_*`), whose configs reject unknown keys.
 */
export const CLIENT_ENV = {
  hubUrl: 'OUTPOST_CLI_HUB_URL',
  agentUrl: 'OUTPOST_CLI_AGENT_URL',
  adminToken: 'OUTPOST_CLI_ADMIN_TOKEN',
} as const;

export const DEFAULT_HUB_URL = 'http://127.0.0.1:8080';
export const DEFAULT_AGENT_URL = 'http://127.0.0.1:7070';

/** The `Common options` lines of client commands' help. */
export const HUB_CLIENT_HELP = `Common options: --hub URL (env ${CLIENT_ENV.hubUrl}, default ${DEFAULT_HUB_URL})
                --token TOKEN (env ${CLIENT_ENV.adminToken}; the hub writes it to DATA_DIR/admin-token)`;

type Env = Readonly<Record<string, string | undefined>>;

/** The hub's URL and admin token for admin commands; no token is a usage error. */
export function hubEndpoint(flags: ConfigObject, env: Env = process.env): HubEndpoint {
  const url = (flags.hub as string | undefined) ?? env[CLIENT_ENV.hubUrl] ?? DEFAULT_HUB_URL;
  const token = (flags.token as string | undefined) ?? env[CLIENT_ENV.adminToken];
  if (!token)
    throw new CliError(`an admin token is needed: --token or env ${CLIENT_ENV.adminToken}`, EXIT.USAGE);
  return { url, token };
}

/** The agent's local API URL for `models` commands. */
export function agentUrl(flags: ConfigObject, env: Env = process.env): string {
  return (flags.agent as string | undefined) ?? env[CLIENT_ENV.agentUrl] ?? DEFAULT_AGENT_URL;
}
