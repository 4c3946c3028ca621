import { agentUpdateCell, type ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { HubEndpoint } from '../hub-client.js';
import { hubRequest } from '../hub-client.js';

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
type Json = any;

/** `outpost devices command ID NAME [--args JSON]`: sends a command on the device's command channel. */
export async function sendCommand(
  hub: HubEndpoint,
  id: string | undefined,
  name: string | undefined,
  flags: ConfigObject,
): Promise<void> {
  if (!id || !name) throw new CliError('devices command needs ID and NAME', EXIT.USAGE);
  let args: unknown = {};
  if (flags.args !== undefined) {
    try {
      args = JSON.parse(String(flags.args));
    } catch (err) {
      throw new CliError(`--args is not JSON: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  const sent = await hubRequest<{ id: string }>(
    hub,
    'POST',
    `/v1/devices/${encodeURIComponent(id)}/commands`,
    { name, args },
  );
  console.log(flags.json === true ? JSON.stringify(sent) : `sent ${name} to ${id} (command ${sent.id})`);
}

/**
 * `outpost devices show ID`: why a device is (un)healthy at a glance: state, version, models
 * with refusals (code and reason) and rejected engines, client-id conflicts, loss ledger, link error.
 */
export async function showDevice(
  hub: HubEndpoint,
  id: string | undefined,
  flags: ConfigObject,
): Promise<void> {
  if (!id) throw new CliError('devices show needs a device ID', EXIT.USAGE);
  const d: Json = await hubRequest(hub, 'GET', `/v1/devices/${encodeURIComponent(id)}`);
  if (flags.json === true) {
    console.log(JSON.stringify(d));
    return;
  }
  const r = d.reported ?? {};
  const lines = [
    `device      ${d.id}${d.name ? ` (${d.name})` : ''}`,
    `status      ${d.removedAt ? `removed ${new Date(d.removedAt).toISOString()} (data kept)` : d.disabled ? 'disabled' : d.online ? 'online' : 'offline'}; last seen ${d.lastSeen ? new Date(d.lastSeen).toISOString() : 'never'}`,
    `agent       ${agentUpdateCell(r) || '-'}; applied/desired rev ${r.appliedRev ?? 0}/${d.desiredRev ?? 0}`,
    ...(r.update?.failed ? [`  reverted  ${r.update.failed.version}: ${r.update.failed.reason}`] : []),
    ...(r.update?.refused
      ? [`  refused   ${r.update.refused.version}: ${r.update.refused.code} ${r.update.refused.reason}`]
      : []),
    `id conflicts ${d.clientIdConflicts ?? 0}`,
  ];
  for (const m of r.models ?? []) {
    lines.push(
      `model       ${m.name}: active ${m.active?.version ?? '-'}${m.desired ? `, desired ${m.desired}` : ''}`,
    );
    if (m.refused)
      lines.push(`  refused   ${m.refused.version}: ${m.refused.code} ${m.refused.reason ?? ''}`.trimEnd());
  }
  for (const m of r.inference?.models ?? []) {
    lines.push(`engine      ${m.name} ${m.version}: ${m.engine ?? 'none'}${m.error ? ` (${m.error})` : ''}`);
    for (const e of m.rejected ?? []) lines.push(`  rejected  ${e.engine} (${e.stage}): ${e.reason}`);
  }
  for (const [lane, l] of Object.entries((d.ledger?.lanes ?? {}) as Record<string, Json>)) {
    const lost = (l.quota?.count ?? 0) + (l.ttl?.count ?? 0) + (l.unconfirmed ?? 0) + (l.skippedAtHub ?? 0);
    if (lost > 0)
      lines.push(
        `loss        ${lane}: quota ${l.quota?.count ?? 0}, ttl ${l.ttl?.count ?? 0}, unconfirmed ${l.unconfirmed ?? 0}, skipped at hub ${l.skippedAtHub ?? 0}`,
      );
  }
  if (r.link?.lastError) lines.push(`last error  ${r.link.lastError}`);
  console.log(lines.join('\n'));
}
