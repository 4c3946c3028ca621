import { ago, esc, num, page, table } from './html.js';
import { color, lineChart, type Series } from './svg.js';

/**
 * The slice of the rollout store (`hub/store/rollout-types.ts`) the dashboard reads,
 * typed structurally so that the page works with any store that has it.
 */
interface RolloutsView {
  listRollouts(): Promise<
    Array<{
      id: string;
      spec: { model?: string; version?: string; mode?: string; stages?: unknown[] } & Record<string, unknown>;
      state: string;
      stage: number;
      stageStartedAt: number;
      createdAt: number;
      reason: string | null;
    }>
  >;
  listRolloutEvents(
    id: string,
  ): Promise<
    Array<{ seq: number; at: number; kind: string; stage: number; message: string; detail: unknown }>
  >;
}

function hasRollouts(store: unknown): store is RolloutsView {
  return typeof (store as Partial<RolloutsView>).listRollouts === 'function';
}

/**
 * Numeric gate values in a rollout event's detail: `{results: GateResult[]}` (what the
 * driver stores at each judgement), `{gates: [{metric|name, value}]}` or `{metric, value}`.
 */
export function gateValues(detail: unknown): Array<{ name: string; value: number }> {
  const out: Array<{ name: string; value: number }> = [];
  const take = (o: unknown) => {
    if (typeof o !== 'object' || o === null) return;
    const r = o as Record<string, unknown>;
    const name = r.metric ?? r.name ?? r.gate;
    if (typeof name === 'string' && typeof r.value === 'number' && Number.isFinite(r.value))
      out.push({ name, value: r.value });
  };
  take(detail);
  const d = detail as { gates?: unknown; results?: unknown } | null;
  for (const list of [d?.gates, d?.results]) if (Array.isArray(list)) for (const g of list) take(g);
  return out;
}

function stageLabel(stage: unknown, i: number): string {
  if (typeof stage === 'number') return `${stage} %`;
  if (typeof stage === 'object' && stage !== null) {
    const s = stage as Record<string, unknown>;
    const share = s.percent ?? s.share ?? s.fraction ?? s.devices;
    if (share !== undefined) return `${String(share)}${s.percent !== undefined ? ' %' : ''}`;
  }
  return `stage ${i + 1}`;
}

/** `GET /dashboard/rollouts`: every rollout with its stages, state, timeline and gate values over time. */
export async function rolloutsPage(store: unknown, now: number): Promise<string> {
  if (!hasRollouts(store)) return page('Rollouts', '<section>This hub has no rollout store.</section>');
  const rollouts = (await store.listRollouts()).sort((a, b) => b.createdAt - a.createdAt);
  const sections: string[] = [];
  for (const r of rollouts.slice(0, 20)) {
    const events = await store.listRolloutEvents(r.id);
    const stages = (r.spec.stages ?? [])
      .map((s, i) => {
        const cls = i < r.stage ? 'ok' : i === r.stage ? 'current' : 'muted';
        return `<li class="${cls}" data-stage="${i}">${i === r.stage ? '<b>' : ''}${esc(stageLabel(s, i))}${i === r.stage ? '</b>' : ''}</li>`;
      })
      .join('');
    const byName = new Map<string, Series>();
    for (const e of events)
      for (const g of gateValues(e.detail)) {
        const s = byName.get(g.name) ?? { label: g.name, color: color(byName.size), points: [] };
        (s.points as Array<{ x: number; y: number }>).push({ x: e.at, y: g.value });
        byName.set(g.name, s);
      }
    const timeline = table(
      ['#', 'When', 'Kind', 'Stage', 'What', 'Gate values'],
      events.slice(-30).map((e) => [
        e.seq,
        ago(e.at, now),
        e.kind,
        e.stage + 1,
        e.message,
        gateValues(e.detail)
          .map((g) => `${g.name}=${num(g.value)}`)
          .join(' '),
      ]),
    );
    sections.push(`<section class="rollout" data-rollout="${esc(r.id)}"><h2>${esc(r.id)}: ${esc(`${r.spec.model ?? ''}@${r.spec.version ?? ''}`)} (${esc(r.spec.mode ?? 'canary')}) <span class="${r.state === 'failed' || r.state === 'rolled-back' ? 'bad' : ''}" data-state="${esc(r.state)}">${esc(r.state)}</span></h2>
<div>Stages: <ol class="stages">${stages}</ol></div>${r.reason ? `<p class="reason">Reason: ${esc(r.reason)}</p>` : ''}
${lineChart([...byName.values()], { title: 'Gate values over time' })}${timeline}</section>`);
  }
  return page('Rollouts', sections.join('') || '<section>No rollouts yet.</section>');
}
