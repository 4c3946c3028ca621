import type { ConfigObject } from '../../shared/index.js';
import { CLIENT_ENV, DEFAULT_AGENT_URL } from '../client-settings.js';
import { agentRequest } from './models.js';

export const AGENT_STATUS_HELP = `outpost agent status [--agent URL] [--json]

Asks a running agent for its status through its local API (--agent URL, env
${CLIENT_ENV.agentUrl}, default ${DEFAULT_AGENT_URL}); it never starts an agent. Exit 3 when
no agent answers.`;

interface StatusView {
  deviceId: string;
  link: { connected: boolean; lastError: string | null };
  desired: { appliedRev: number };
  warnings?: string[];
}

/** `outpost agent status`: one summary line and any warnings, or the whole status as JSON. */
export async function runAgentStatusCommand(flags: ConfigObject): Promise<void> {
  const status = await agentRequest<StatusView>(flags, 'GET', '/v1/status');
  if (flags.json === true) {
    console.log(JSON.stringify(status));
    return;
  }
  const link = status.link.connected
    ? 'connected'
    : `disconnected${status.link.lastError ? ` (${status.link.lastError})` : ''}`;
  console.log(`${status.deviceId}: hub link ${link}, applied desired rev ${status.desired.appliedRev}`);
  for (const warning of status.warnings ?? []) console.log(`warning: ${warning}`);
}
