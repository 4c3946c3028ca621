import { agentUpdateCell, type ConfigObject } from '../../shared/index.js';
import { HUB_CLIENT_HELP, hubEndpoint } from '../client-settings.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ago } from '../format.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { renderTable } from '../table.js';
import { deviceLogs } from './devices-logs.js';
import { sendCommand, showDevice } from './devices-more.js';

export const DEVICES_HELP = `outpost devices add [ID] [--name NAME] [--label key=value ...] [--json]
outpost devices list [--json]
outpost devices disable|enable|rotate-secret ID [--json]
outpost devices remove ID [--purge] [--json]
outpost devices show ID [--json]
outpost devices command ID NAME [--args JSON]
outpost devices logs ID [--follow] [--json]

${HUB_CLIENT_HELP}

'add' enrolls a device and prints its id, secret and join token, once only. The token carries
the secret, the hub's public URLs (hub config public.mqttUrl/public.httpUrl), its signing
keys and TLS CA: on the device, 'outpost agent join TOKEN' writes the agent's whole config.
'list' shows each device's model delivery as it reports it: 'digits 1.2.0 43%' while
downloading, 'digits 1.2.0 refused CODE', or the active version 'digits 1.0.0'; and its agent
release with its over-the-air update: '0.1.0 → 0.2.1 43%', '0.2.1 on trial', '0.1.0 (0.2.0
reverted)' (its launcher reverted the release), '0.1.0 (by image)' (a container).

'show' tells why a device is unhealthy: status, version, models with refusals (code and
reason) and rejected engines, client-id conflicts, loss ledger, last link error. 'command'
sends NAME (with --args, a JSON object) on the device's command channel. 'logs' prints the
warn-and-worse log lines the device's agent shipped to the hub (at most
telemetry.logs.maxPerMinute a minute; lines over it are counted as dropped); --follow keeps
printing new ones until Ctrl-C.
'disable' refuses the device at every connect and cuts its live connection; its data is kept
and 'enable' lets the same secret in again. 'rotate-secret' prints a new secret and join token
(the old secret stops working at once). 'remove' takes the device out of the fleet: its
credentials and desired state are deleted, its connection is cut; its events (results,
telemetry, logs), loss ledger and last reported state are kept and 'show' still finds it.
--purge deletes those too (also for a device removed before) and frees its id. With an external
Mosquitto (hub broker.authDir) the auth files are rewritten at once.

Examples:
  outpost devices add jetson-01 --name "Dock 3 camera" --label site=rotterdam
  outpost devices list --json`;

interface DeviceRow {
  id: string;
  name?: string | null;
  online: boolean;
  lastSeen?: number | null;
  desiredRev?: number | null;
  reported?: {
    appliedRev?: number;
    agentVersion?: string;
    models?: DeliveryReport[];
    update?: unknown;
  } | null;
  disabled?: boolean;
  clientIdConflicts?: number;
}

/** The slice of a device's `models` report (shared `ModelDeliveryReportSchema`) shown here. */
interface DeliveryReport {
  name: string;
  desired?: string;
  active?: { version: string };
  downloading?: { version: string; bytes: number; total: number };
  refused?: { version: string; code: string };
}

/**
 * The DELIVERY cell of `devices list` (download progress as the agents report
 * it), one entry per model, comma-separated: `digits 1.2.0 43%` while a download is in
 * progress (bytes on disk of total), `digits 1.2.0 refused CODE` when the desired version was
 * refused, otherwise the active version `digits 1.0.0`. Empty when the device reports no models.
 */
export function deliveryCell(models: readonly DeliveryReport[] | undefined): string {
  return (models ?? [])
    .map((m) => {
      if (m.downloading) {
        const { version, bytes, total } = m.downloading;
        const pct = total > 0 ? Math.min(100, Math.floor((100 * bytes) / total)) : 0;
        return `${m.name} ${version} ${pct}%`;
      }
      if (m.refused && m.refused.version === m.desired)
        return `${m.name} ${m.refused.version} refused ${m.refused.code}`;
      return m.active ? `${m.name} ${m.active.version}` : `${m.name} -`;
    })
    .join(', ');
}

const endpoint = (flags: ConfigObject): HubEndpoint => hubEndpoint(flags);

function labels(value: unknown): Record<string, string> {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const out: Record<string, string> = {};
  for (const item of list) {
    const [key, ...rest] = String(item).split('=');
    if (!key || rest.length === 0)
      throw new CliError(`--label must be key=value, got ${String(item)}`, EXIT.USAGE);
    out[key] = rest.join('=');
  }
  return out;
}

/** `outpost devices add|list`. */
export async function runDevicesCommand(positionals: string[], flags: ConfigObject): Promise<void> {
  const [action, id] = positionals;
  const json = flags.json === true;
  if (action === 'add') {
    const body = {
      ...(id ? { id } : {}),
      ...(typeof flags.name === 'string' ? { name: flags.name } : {}),
      ...(flags.label === undefined ? {} : { labels: labels(flags.label) }),
    };
    const created = await hubRequest<{ id: string; secret: string; joinToken: string }>(
      endpoint(flags),
      'POST',
      '/v1/devices',
      body,
    );
    if (json) console.log(JSON.stringify(created));
    else
      console.log(
        `enrolled ${created.id}\nsecret   ${created.secret}\ntoken    ${created.joinToken}\n(shown once; the hub keeps only a hash)\non the device: outpost agent join ${created.joinToken}`,
      );
    return;
  }
  if (action === 'list') {
    const { devices } = await hubRequest<{ devices: DeviceRow[] }>(endpoint(flags), 'GET', '/v1/devices');
    if (json) {
      console.log(JSON.stringify({ devices }));
      return;
    }
    const columns = [
      { header: 'ID', value: (d: DeviceRow) => d.id },
      { header: 'NAME', value: (d: DeviceRow) => d.name, max: 32 },
      {
        header: 'STATUS',
        // Connections that took over this id's live session: two processes share the device id.
        value: (d: DeviceRow) =>
          `${d.disabled ? 'disabled' : d.online ? 'online' : 'offline'}${d.clientIdConflicts ? ` (${d.clientIdConflicts} id conflicts)` : ''}`,
      },
      { header: 'LAST SEEN', value: (d: DeviceRow) => ago(d.lastSeen) },
      {
        header: 'APPLIED/DESIRED',
        value: (d: DeviceRow) => `${d.reported?.appliedRev ?? 0}/${d.desiredRev ?? 0}`,
        align: 'right' as const,
      },
      // The agent release and its over-the-air update: `0.1.0 → 0.2.1 43%`, `0.2.1 on trial`,
      // `0.1.0 (0.2.0 reverted)`, `0.1.0 (by image)`.
      { header: 'AGENT', value: (d: DeviceRow) => agentUpdateCell(d.reported), max: 40 },
      { header: 'DELIVERY', value: (d: DeviceRow) => deliveryCell(d.reported?.models), max: 60 },
    ];
    console.log(renderTable(columns, devices, '(no devices enrolled)'));
    return;
  }
  if (action === 'show') return showDevice(endpoint(flags), id, flags);
  if (action === 'command') return sendCommand(endpoint(flags), id, positionals[2], flags);
  if (action === 'logs') return deviceLogs(endpoint(flags), id, flags);
  if (action === 'disable' || action === 'enable' || action === 'rotate-secret' || action === 'remove') {
    if (!id) throw new CliError(`devices ${action} needs a device ID`, EXIT.USAGE);
    const path = `/v1/devices/${encodeURIComponent(id)}`;
    if (action === 'remove') {
      const purge = flags.purge === true;
      await hubRequest(endpoint(flags), 'DELETE', purge ? `${path}?purge=true` : path);
      console.log(
        json
          ? JSON.stringify({ id, removed: true, purged: purge })
          : `removed ${id}${purge ? ' and its data' : ' (its data kept)'}`,
      );
      return;
    }
    const result = await hubRequest<{ id: string; secret?: string; joinToken?: string }>(
      endpoint(flags),
      'POST',
      `${path}/${action}`,
    );
    if (json) console.log(JSON.stringify(result));
    else if (action === 'rotate-secret')
      console.log(
        `rotated ${id}\nsecret   ${result.secret}\ntoken    ${result.joinToken}\n(shown once; the old secret no longer works)`,
      );
    else console.log(`${action}d ${id}`);
    return;
  }
  throw new CliError(`unknown devices action ${JSON.stringify(action ?? '')}\n\n${DEVICES_HELP}`, EXIT.USAGE);
}
