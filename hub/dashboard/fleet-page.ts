import { agentUpdateCell } from '../../shared/index.js';
import { type DashboardDeps, reportedView } from './context.js';
import { ago, esc, num, page, raw, table } from './html.js';

/** `GET /dashboard`: fleet summary, every device, drift at a glance. */
export async function fleetPage(deps: DashboardDeps): Promise<string> {
  const now = deps.now();
  const devices = await deps.store.listDevices();
  const online = devices.filter((d) => d.online).length;
  const [drift, alerts, telemetry] = await Promise.all([
    deps.drift.list(),
    deps.drift.alerts(),
    deps.store.listDeviceTelemetry(),
  ]);
  const openAlerts = alerts.filter((a) => a.clearedAt === null);
  const latest = new Map(telemetry.map((t) => [t.deviceId, t.latest]));
  const rows = devices.map((d) => {
    const r = reportedView(d.reported);
    const t = latest.get(d.id);
    const models = (r.inference?.models ?? [])
      .map((m) => `${m.name}@${m.version} ${m.precision ?? ''} on ${m.engine ?? 'no engine'}`)
      .join(', ');
    const depth = t
      ? Object.values(t.outbox).reduce((n, l) => n + (l?.depth ?? 0), 0)
      : Object.values(r.outbox ?? {}).reduce((n, l) => n + (l.pending ?? 0), 0);
    return [
      raw(`<a href="/dashboard/devices/${encodeURIComponent(d.id)}">${esc(d.id)}</a>`),
      d.name ?? '',
      raw(
        `<span class="${d.online ? 'online' : 'offline'}" data-state="${d.online ? 'online' : 'offline'}">${d.online ? 'online' : 'offline'}</span>`,
      ),
      r.inference?.profile?.name ?? t?.profile ?? '',
      models || raw('<span class="muted">no model</span>'),
      depth,
      t?.cache.hitRate === null || t === undefined ? '—' : `${Math.round(t.cache.hitRate * 100)} %`,
      // The release and its over-the-air update (`0.1.0 → 0.2.1 43%`, `0.1.0 (0.2.0 reverted)`).
      agentUpdateCell(d.reported),
      ago(d.lastSeen, now),
    ];
  });
  const driftRows = drift.map((s) => [
    raw(
      `<a href="/dashboard/drift/${encodeURIComponent(s.model)}/${encodeURIComponent(s.version)}">${esc(`${s.model}@${s.version}`)}</a>`,
    ),
    s.rows,
    num(s.psi),
    num(s.ks),
    raw(
      s.drifting
        ? '<span class="bad">drifting</span>'
        : s.hasBaseline
          ? '<span class="ok">stable</span>'
          : '<span class="muted">no baseline</span>',
    ),
  ]);
  const body = `<div class="cards">
<div class="card" id="devices-total"><b>${devices.length}</b>devices</div>
<div class="card" id="devices-online"><b class="online">${online}</b>online</div>
<div class="card" id="devices-offline"><b class="offline">${devices.length - online}</b>offline</div>
<div class="card" id="drift-alerts"><b class="${openAlerts.length ? 'bad' : ''}">${openAlerts.length}</b>drift alerts</div></div>
<section><h2>Devices</h2>${table(['Device', 'Name', 'State', 'Profile', 'Models (engine)', 'Queue', 'Cache hits', 'Agent', 'Last seen'], rows, 'id="fleet"')}</section>
<section><h2>Drift</h2>${table(['Model version', 'Rows', 'PSI', 'KS', 'Verdict'], driftRows, 'id="drift"')}</section>`;
  return page('Fleet', body);
}
