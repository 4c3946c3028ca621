import { LANES } from '../../shared/index.js';
import { ledgerView } from '../http/views.js';
import type { DeviceRecord } from '../store/types.js';
import type { DashboardDeps, ReportedView } from './context.js';
import { ago, table } from './html.js';

/** Reasons of a refused CONNECT (bad secret, not authorized, rate limited), not a session conflict. */
const isAuthFailure = (reason: string) =>
  reason.startsWith('connect.') && reason !== 'connect.client-id-conflict';

const counted = (entries: Array<[string, { count: number; lastAt: number }]>, now: number) => {
  const total = entries.reduce((sum, [, r]) => sum + r.count, 0);
  if (total === 0) return '0';
  const last = Math.max(...entries.map(([, r]) => r.lastAt));
  return `${total} (${entries.map(([reason, r]) => `${reason} ${r.count}`).join(', ')}), last ${ago(last, now)}`;
};

/**
 * The device page's health sections: what the hub's broker refused of this device id since
 * the hub started (auth failures, client-id conflicts, other refusals), the device's model
 * refusals with code and reason, the engines it rejected, its loss ledger (its own report and
 * the seqs the hub skipped) and its MQTT link's last error.
 */
export async function deviceHealthSections(
  deps: DashboardDeps,
  device: DeviceRecord,
  r: ReportedView,
): Promise<string> {
  const now = deps.now();
  const rejections = Object.entries(deps.deviceHealth?.rejections(device.id) ?? {});
  const broker = table(
    ['', ''],
    [
      [
        'Auth failures',
        counted(
          rejections.filter(([reason]) => isAuthFailure(reason)),
          now,
        ),
      ],
      ['Client-id conflicts', deps.deviceHealth?.clientIdConflicts(device.id) ?? 0],
      [
        'Other refusals',
        counted(
          rejections.filter(([reason]) => !reason.startsWith('connect.')),
          now,
        ),
      ],
      ['Last link error', r.link?.lastError ?? 'none'],
    ],
    'id="device-health"',
  );
  const refusals = table(
    ['Model', 'Version', 'Code', 'Reason', 'When'],
    (r.models ?? [])
      .filter((m) => m.refused)
      .map((m) => [m.name, m.refused?.version, m.refused?.code, m.refused?.reason, ago(m.refused?.at, now)]),
    'id="device-refusals"',
  );
  const rejected = table(
    ['Model', 'Engine', 'Stage', 'Reason'],
    (r.inference?.models ?? []).flatMap((m) => [
      ...(m.rejected ?? []).map((e) => [`${m.name} ${m.version}`, e.engine, e.stage, e.reason]),
      ...(m.error ? [[`${m.name} ${m.version}`, m.engine ?? 'none', 'error', m.error]] : []),
    ]),
    'id="device-rejected-engines"',
  );
  const ledger = ledgerView(device, await deps.store.skipTotals(device.id));
  const loss = table(
    ['Lane', 'Dropped (quota)', 'Expired (TTL)', 'Unconfirmed', 'Skipped at hub'],
    LANES.map((lane) => {
      const l = ledger.lanes[lane];
      return [lane, l.quota.count, l.ttl.count, l.unconfirmed, l.skippedAtHub];
    }),
    'id="device-ledger"',
  );
  return `<section><h2>Health</h2>${broker}</section><section><h2>Refusals</h2>${refusals}</section>
<section><h2>Rejected engines</h2>${rejected}</section><section><h2>Loss ledger</h2>${loss}</section>`;
}
