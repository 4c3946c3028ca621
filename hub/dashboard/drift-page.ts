import type { DashboardDeps } from './context.js';
import { ago, esc, num, page, raw, table } from './html.js';
import { barChart, color, lineChart } from './svg.js';

/** `GET /dashboard/drift`: every model version's drift over time, and the alerts. */
export async function driftListPage(deps: DashboardDeps): Promise<string> {
  const now = deps.now();
  const [statuses, alertList] = await Promise.all([deps.drift.list(), deps.drift.alerts()]);
  const sections = statuses.map((s) => {
    const link = `/dashboard/drift/${encodeURIComponent(s.model)}/${encodeURIComponent(s.version)}`;
    return `<section><h2><a href="${esc(link)}">${esc(`${s.model}@${s.version}`)}</a> ${s.drifting ? '<span class="bad">drifting</span>' : ''}</h2>${driftChart(s.history, deps)}</section>`;
  });
  const alerts = table(
    ['Alert', 'Model version', 'Raised', 'PSI', 'KS', 'Rows', 'Cleared'],
    alertList.map((a) => [
      a.id,
      `${a.model}@${a.version}`,
      ago(a.at, now),
      num(a.psi),
      num(a.ks),
      a.rows,
      a.clearedAt === null ? raw('<span class="bad">open</span>') : ago(a.clearedAt, now),
    ]),
    'id="drift-alerts-table"',
  );
  return page(
    'Drift',
    `<section><h2>Alerts</h2>${alerts}</section>${sections.join('') || '<section>No drift data yet.</section>'}`,
  );
}

/** `GET /dashboard/drift/:model/:version`: PSI and KS over time, per feature, output. */
export async function driftPage(deps: DashboardDeps, model: string, version: string): Promise<string> {
  const s = await deps.drift.status(model, version);
  const facts = table(
    ['', ''],
    [
      ['Baseline', s.hasBaseline ? 'yes' : 'none (PUT /v1/drift/baselines/…)'],
      ['Rows in window', s.rows],
      ['Devices', s.devices],
      ['PSI (max)', num(s.psi)],
      ['KS (max)', num(s.ks)],
      ['Output PSI', num(s.output?.psi)],
      ['Verdict', raw(s.drifting ? '<span class="bad">drifting</span>' : '<span class="ok">stable</span>')],
    ],
    'id="drift-facts"',
  );
  const perFeature = barChart(
    s.features.map((f, i) => ({ label: `feature ${i}`, value: f.psi })),
    { title: 'PSI per input feature', threshold: deps.thresholds.psi },
  );
  return page(
    `Drift ${model}@${version}`,
    `<section>${facts}</section><section>${driftChart(s.history, deps)}${perFeature}</section>`,
  );
}

function driftChart(
  history: ReadonlyArray<{ at: number; psi: number | null; ks: number | null }>,
  deps: DashboardDeps,
) {
  return lineChart(
    [
      { label: 'PSI', color: color(0), points: history.map((h) => ({ x: h.at, y: h.psi })) },
      { label: 'KS', color: color(1), points: history.map((h) => ({ x: h.at, y: h.ks })) },
    ],
    { title: 'PSI and KS over time', threshold: deps.thresholds.psi },
  );
}
