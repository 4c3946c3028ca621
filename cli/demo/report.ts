import { table } from '../format.js';
import { agentUpdateLines, type DemoAgentUpdate } from './agent-update-phase.js';
import { type DemoFederated, federatedLines } from './federated-phase.js';
import type { DemoInference } from './inference-phase.js';
import { type DemoRollouts, rolloutLines } from './rollout-phase.js';

/** What `outpost demo --json` prints. */
export interface DemoReport {
  ok: boolean;
  /** Every broken invariant, in words; empty when ok. */
  problems: string[];
  durationMs: number;
  devices: { enrolled: number; online: number };
  events: {
    /** Events the applications had accepted (HTTP 202) by the agents' local APIs. */
    accepted: number;
    /** Events the agents durably stored in their outboxes (their sequence counters). */
    sent: number;
    /** Events the hub holds. */
    ingested: number;
    /** Events the hub holds more than once (by the application's own event id). */
    duplicates: number;
    /** Events stored by an agent that the hub does not hold. */
    lost: number;
    /** Events delivered again after a crash or reconnect, which the hub recognised and ignored. */
    redeliveriesIgnored: number;
  };
  crash: { device: string; acceptedBeforeKill: number; pendingAtKill: number; failedRequests: number };
  /**
   * The agent whose link the demo cut: events it queued offline, drained once back,
   * and, from the final check, its duplicates and losses at the hub (both must be 0).
   */
  offline?: {
    device: string;
    queued: number;
    drained: number;
    /** Inputs classified while offline, and how many the device answered itself. */
    inferred: number;
    servedLocally: number;
    duplicates?: number;
    lost?: number;
  };
  /** The digits model on each device (engine, rejections, cache) and the escalation. */
  inference?: DemoInference;
  /** The v1 / broken v2 / v3 rollouts with their timelines. */
  rollouts?: DemoRollouts;
  /** Federated rounds on non-IID slices, accuracy before/after, the version rolled out. */
  federated?: DemoFederated;
  /**
   * Over-the-air agent updates: the broken release its canary's launcher reverted (and the
   * rollout rolled back), the good one on every device.
   */
  agentUpdate?: Pick<DemoAgentUpdate, 'broken' | 'good' | 'problems'>;
  perDevice: Array<{
    id: string;
    accepted: number;
    sent: number;
    ingested: number;
    duplicates: number;
    lost: number;
  }>;
  timeline: Array<{ atMs: number; what: string }>;
  workDir: string;
}

/** The human summary printed after the timeline. */
export function formatSummary(report: DemoReport): string {
  const e = report.events;
  const rows = report.perDevice.map((d) => [
    d.id,
    String(d.accepted),
    String(d.sent),
    String(d.ingested),
    String(d.duplicates),
    String(d.lost),
  ]);
  return [
    '',
    table(['DEVICE', 'ACCEPTED', 'SENT', 'INGESTED', 'DUPLICATES', 'LOST'], rows),
    '',
    `devices online      ${report.devices.online}/${report.devices.enrolled}`,
    `events sent         ${e.sent}  (durably queued by the agents; ${e.accepted} acknowledged to apps)`,
    `events ingested     ${e.ingested}`,
    `duplicates          ${e.duplicates}`,
    `lost                ${e.lost}`,
    `redeliveries        ${e.redeliveriesIgnored}  (resent after the crash or a timeout, recognised and ignored by the hub)`,
    `crash               ${report.crash.device} killed with SIGKILL holding ${report.crash.pendingAtKill} unacknowledged events`,
    ...(report.offline
      ? [
          `offline             ${report.offline.device}: queued ${report.offline.queued} while its link was down, ` +
            `drained ${report.offline.drained}, duplicates ${report.offline.duplicates ?? 0}, lost ${report.offline.lost ?? 0}; ` +
            `classified ${report.offline.inferred} digits meanwhile (${report.offline.servedLocally} on the device)`,
        ]
      : []),
    ...(report.inference ? inferenceLines(report.inference) : []),
    ...(report.rollouts ? rolloutLines(report.rollouts) : []),
    ...(report.federated ? federatedLines(report.federated) : []),
    ...(report.agentUpdate ? agentUpdateLines(report.agentUpdate) : []),
    `took                ${(report.durationMs / 1000).toFixed(1)} s`,
    '',
    report.ok ? 'OK: every event the agents stored reached the hub exactly once.' : 'FAILED:',
    ...report.problems.map((p) => `  - ${p}`),
  ].join('\n');
}

function inferenceLines(inf: DemoInference): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const lines = [
    '',
    table(
      ['DEVICE', 'PROFILE', 'ENGINE', 'VARIANT', 'ACCURACY', 'CACHE HITS'],
      inf.devices.map((d) => [
        d.id,
        d.profile,
        d.engine ?? 'none',
        d.precision,
        pct(d.accuracy),
        pct(d.cache.hitRate),
      ]),
    ),
  ];
  for (const d of inf.devices) {
    for (const r of d.rejected) {
      lines.push(
        `  ${d.id} rejected ${r.engine}${r.precision ? `/${r.precision}` : ''} (${r.stage}): ${r.reason}`,
      );
    }
  }
  const e = inf.escalation;
  lines.push(
    '',
    `cache hit rate      ${pct(inf.cacheHitRate)} over every device (each digit asked twice)`,
    `escalations         ${inf.escalations}; ${e.device} sent a digit it was ${pct(e.confidence)} sure of (threshold ${pct(e.threshold)}) ` +
      `to ${e.servedBy === 'cloud' ? `the hub's ${inf.model.hubModel} ${e.hubVersion}` : 'nobody (answered locally)'}: label ${e.label}, answer ${e.prediction}`,
  );
  return lines;
}
