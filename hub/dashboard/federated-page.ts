import { ago, esc, num, page, table } from './html.js';
import { color, lineChart, type Series } from './svg.js';

/** The slice of the federated store (`hub/store/federated-types.ts`) the dashboard reads. */
interface FederatedView {
  listFlTasks(): Promise<
    Array<{
      id: string;
      spec: Record<string, unknown>;
      status: string;
      round: number;
      createdAt: number;
      reason: string | null;
    }>
  >;
  listFlRounds(taskId: string): Promise<
    Array<{
      round: number;
      status: string;
      selected: string[];
      openedAt: number;
      closedAt: number | null;
      metrics: Record<string, unknown>;
    }>
  >;
}

function hasFederated(store: unknown): store is FederatedView {
  return typeof (store as Partial<FederatedView>).listFlTasks === 'function';
}

/**
 * Numeric `accuracy` and `loss` fields anywhere in a round's metrics (up to 3 levels deep),
 * keyed by their path, e.g. `hubEval.accuracy`.
 */
export function curveValues(
  metrics: unknown,
  prefix = '',
  depth = 0,
): Array<{ path: string; value: number }> {
  if (typeof metrics !== 'object' || metrics === null || depth > 3) return [];
  const out: Array<{ path: string; value: number }> = [];
  for (const [k, v] of Object.entries(metrics)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v) && /(accuracy|loss)$/i.test(k))
      out.push({ path, value: v });
    else if (typeof v === 'object') out.push(...curveValues(v, path, depth + 1));
  }
  return out;
}

/** `GET /dashboard/federated`: every task with its rounds and accuracy/loss curves. */
export async function federatedPage(store: unknown, now: number): Promise<string> {
  if (!hasFederated(store)) return page('Federated', '<section>This hub has no federated store.</section>');
  const tasks = (await store.listFlTasks()).sort((a, b) => b.createdAt - a.createdAt).slice(0, 20);
  const sections: string[] = [];
  for (const task of tasks) {
    const rounds = (await store.listFlRounds(task.id)).sort((a, b) => a.round - b.round);
    const acc = new Map<string, Series>();
    const loss = new Map<string, Series>();
    for (const r of rounds)
      for (const { path, value } of curveValues(r.metrics)) {
        const target = /loss$/i.test(path) ? loss : acc;
        const s = target.get(path) ?? { label: path, color: color(target.size), points: [] };
        (s.points as Array<{ x: number; y: number }>).push({ x: r.round, y: value });
        target.set(path, s);
      }
    const xLabel = (x: number) => `round ${x}`;
    const rows = rounds.map((r) => [
      r.round,
      r.status,
      r.selected.length,
      ago(r.openedAt, now),
      r.closedAt === null ? '' : ago(r.closedAt, now),
      curveValues(r.metrics)
        .map((c) => `${c.path}=${num(c.value)}`)
        .join(' '),
    ]);
    sections.push(`<section class="fl-task" data-task="${esc(task.id)}"><h2>${esc(task.id)} <span data-state="${esc(task.status)}">${esc(task.status)}</span> · round ${task.round}</h2>
${task.reason ? `<p>${esc(task.reason)}</p>` : ''}
${lineChart([...acc.values()], { title: 'Accuracy by round', xLabel })}${lineChart([...loss.values()], { title: 'Loss by round', xLabel })}
${table(['Round', 'Status', 'Devices', 'Opened', 'Closed', 'Accuracy / loss'], rows)}</section>`);
  }
  return page('Federated', sections.join('') || '<section>No federated tasks yet.</section>');
}
