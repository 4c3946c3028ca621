import { agentUpdateCell, OutpostError } from '../../shared/index.js';
import { DISABLED_PREFIX, removedAt } from '../store/device-lifecycle-types.js';
import { type DashboardDeps, reportedView } from './context.js';
import { deviceHealthSections } from './device-health.js';
import { ago, bytes, page, table } from './html.js';
import { color, lineChart } from './svg.js';

/** `GET /dashboard/devices/:id`: one device's state, models, outbox per lane and history. */
export async function devicePage(deps: DashboardDeps, id: string): Promise<string> {
  const device = await deps.store.getDevice(id);
  if (device === undefined) throw new OutpostError('HUB_NOT_FOUND', `no device ${id}`);
  const now = deps.now();
  const r = reportedView(device.reported);
  const entry = await deps.store.getDeviceTelemetry(id);
  const t = entry?.latest;
  const facts = table(
    ['', ''],
    [
      [
        'State',
        removedAt(device.secretHash) !== null
          ? 'removed (data kept)'
          : `${device.online ? 'online' : 'offline'}${device.secretHash.startsWith(DISABLED_PREFIX) ? ', disabled' : ''}`,
      ],
      ['Name', device.name ?? ''],
      [
        'Labels',
        Object.entries(device.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
      ],
      ['Last seen', ago(device.lastSeen, now)],
      ['Agent', agentUpdateCell(device.reported)],
      ['Agent updates', agentUpdateFacts(device.reported)],
      ['Host', r.host ? `${r.host.platform ?? ''}/${r.host.arch ?? ''} ${r.host.hostname ?? ''}` : ''],
      ['Profile', r.inference?.profile?.name ?? t?.profile ?? ''],
      ['Applied desired rev', r.appliedRev ?? 0],
      ['Uptime', t ? `${Math.round(t.uptimeS)} s` : '—'],
      ['Memory (RSS)', t ? bytes(t.memory.rssBytes) : '—'],
      ['Disk free', t?.disk ? `${bytes(t.disk.freeBytes)} of ${bytes(t.disk.totalBytes)}` : '—'],
      ['Telemetry', entry ? `received ${ago(entry.receivedAt, now)}` : 'none yet'],
    ],
    'id="device-facts"',
  );
  const models = table(
    ['Model', 'Version', 'Precision', 'Engine'],
    (r.inference?.models ?? []).map((m) => [m.name, m.version, m.precision, m.engine ?? 'none admitted']),
    'id="device-models"',
  );
  const lanes = t
    ? Object.entries(t.outbox).map(([lane, l]) => [
        lane,
        l?.depth ?? 0,
        bytes(l?.bytes ?? 0),
        (l?.ledger.quota.count ?? 0) + (l?.ledger.ttl.count ?? 0),
        l?.ledger.unconfirmed ?? 0,
      ])
    : Object.entries(r.outbox ?? {}).map(([lane, l]) => [
        lane,
        l.pending ?? 0,
        bytes(l.pendingBytes ?? 0),
        '',
        '',
      ]);
  const history = entry?.history ?? [];
  const charts = [
    lineChart(
      [{ label: 'queue depth', color: color(0), points: history.map((p) => ({ x: p.at, y: p.depth })) }],
      {
        title: 'Outbox depth (events)',
      },
    ),
    lineChart(
      [
        {
          label: 'RSS MiB',
          color: color(1),
          points: history.map((p) => ({ x: p.at, y: p.rssBytes / 2 ** 20 })),
        },
      ],
      { title: 'Memory (MiB)' },
    ),
  ].join('');
  const health = await deviceHealthSections(deps, device, r);
  const body = `<section><h2>Device</h2>${facts}</section>${health}<section><h2>Models</h2>${models}</section>
<section><h2>Outbox</h2>${table(['Lane', 'Queued', 'Bytes', 'Lost (ledger)', 'Unconfirmed drops'], lanes, 'id="device-outbox"')}</section>
<section><h2>History</h2>${charts}</section>`;
  return page(`Device ${id}`, body);
}

/** How the agent is updated and its last revert or refusal, in one line. */
function agentUpdateFacts(reported: unknown): string {
  const u = (reported as { update?: Record<string, unknown> } | null)?.update as
    | {
        managedBy?: string;
        slot?: string;
        failed?: { version?: string; reason?: string };
        refused?: { version?: string; code?: string; reason?: string };
      }
    | undefined;
  if (u === undefined) return '';
  const how =
    u.managedBy === 'launcher'
      ? `over the air (slot ${u.slot ?? '?'})`
      : u.managedBy === 'image'
        ? 'by a new image'
        : 'not run by the launcher';
  const failed = u.failed ? `; reverted ${u.failed.version}: ${u.failed.reason}` : '';
  const refused = u.refused ? `; refused ${u.refused.version}: ${u.refused.code} ${u.refused.reason}` : '';
  return `${how}${failed}${refused}`;
}
