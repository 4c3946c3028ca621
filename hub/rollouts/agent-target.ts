import {
  AGENT_GATE_METRICS,
  type AgentCounters,
  type AgentUpdateReport,
  type DesiredState,
  emptyAgentCounters,
  IMPLICIT_AGENT_GATE,
  judgeGates,
  parseGateOf,
  type RolloutRequest,
} from '../../shared/index.js';
import type { RolloutDevice } from '../store/rollout-types.js';
import type { DeviceRecord } from '../store/types.js';
import type { RolloutVerdict } from './evaluate.js';

/**
 * What the rollout driver does differently for an agent release (docs/agent-updates.md): a
 * device's "version" is the agent release it runs, its pin is the desired `agent` section,
 * and it counts as reported once it runs the release confirmed healthy; gates are computed
 * from the devices' reported `update` sections (came back online within N seconds, crashes,
 * errors, outbox draining, reverted updates).
 */

interface AgentReport {
  agentVersion?: string;
  update?: Partial<AgentUpdateReport>;
}

function reportOf(device: DeviceRecord | undefined): AgentReport {
  const r = device?.reported;
  return typeof r === 'object' && r !== null ? (r as AgentReport) : {};
}

/** The release a device runs or is told to run, before the rollout pins it. */
export function currentAgentVersion(desired: DesiredState | undefined, device: DeviceRecord | undefined) {
  return desired?.agent?.version ?? reportOf(device).agentVersion ?? null;
}

/** Why a device cannot take part in an agent rollout (it cannot update itself), or undefined. */
export function agentCannotTakePart(device: DeviceRecord | undefined): string | undefined {
  const r = reportOf(device);
  if (device?.reported === null || device?.reported === undefined) return undefined;
  const managed = r.update?.managedBy;
  if (managed === 'launcher') return undefined;
  if (managed === 'image') return 'runs in a container: updated by a new image, not over the air';
  if (managed === 'none') return 'not run by the launcher (outpost agent launch): cannot update itself';
  return `agent ${r.agentVersion ?? '?'} cannot update itself over the air (no launcher)`;
}

/** The device runs `version`, confirmed healthy (not on trial). */
export function runsConfirmed(device: DeviceRecord | undefined, version: string): boolean {
  const r = reportOf(device);
  return r.agentVersion === version && r.update?.state !== 'trial';
}

/** The device's launcher reverted `version` asked for by `rolloutId`: the reason, or undefined. */
export function revertedBy(device: DeviceRecord | undefined, version: string, rolloutId: string) {
  const failed = reportOf(device).update?.failed;
  return failed?.version === version && failed.rollout === rolloutId ? failed.reason : undefined;
}

/** Why the device refuses `version` (wrong platform, a downgrade …), or undefined. */
export function refusedAgent(device: DeviceRecord | undefined, version: string): string | undefined {
  const refused = reportOf(device).update?.refused;
  return refused?.version === version ? `${refused.code}: ${refused.reason}` : undefined;
}

/** The gates of an agent rollout: its own, and `failed<1` unless it names a `failed` gate. */
export function agentGates(spec: RolloutRequest): string[] {
  const own = spec.gates.map((g) => parseGateOf(g, AGENT_GATE_METRICS));
  return own.some((g) => g.metric === 'failed') ? spec.gates : [...spec.gates, IMPLICIT_AGENT_GATE];
}

/** The counters of an agent rollout's devices, from their reported states. */
export function agentCounters(
  spec: RolloutRequest,
  rolloutId: string,
  devices: readonly RolloutDevice[],
  byId: ReadonlyMap<string, DeviceRecord>,
): AgentCounters {
  const c = emptyAgentCounters();
  for (const d of devices) {
    if (d.rolledBackAt !== null && d.excludedAt === null) continue;
    const device = byId.get(d.deviceId);
    if (revertedBy(device, spec.version, rolloutId) !== undefined) {
      c.failed++;
      continue;
    }
    if (d.excludedAt !== null && d.reportedAt === null) continue;
    c.assigned++;
    if (d.reportedAt === null || !runsConfirmed(device, spec.version)) continue;
    const u = reportOf(device).update ?? {};
    c.updated++;
    c.crashes += u.crashes ?? 0;
    c.errors += u.errors ?? 0;
    if (u.outboxDraining === false) c.undrained++;
    const back = u.switched?.backOnlineMs;
    if (typeof back === 'number') c.onlineS = Math.max(c.onlineS ?? 0, back / 1000);
  }
  return c;
}

/** The gates' verdict over an agent rollout's devices. */
export function judgeAgentRollout(
  spec: RolloutRequest,
  rolloutId: string,
  devices: readonly RolloutDevice[],
  byId: ReadonlyMap<string, DeviceRecord>,
): Omit<RolloutVerdict, 'counters'> & { agent: AgentCounters } {
  const counters = agentCounters(spec, rolloutId, devices, byId);
  const gates = agentGates(spec).map((g) => parseGateOf(g, AGENT_GATE_METRICS));
  const judged = judgeGates(gates, counters, AGENT_GATE_METRICS);
  return { ...judged, agent: counters, reporting: counters.updated };
}

/** An agent arm's figures for `rollouts status`, named as its gates name them. */
export function summariseAgent(c: AgentCounters): Record<string, number | null> {
  return {
    assigned: c.assigned,
    updated: c.updated,
    failed: c.failed,
    online_s: c.onlineS ?? null,
    crashes: c.crashes,
    errors: c.errors,
    undrained: c.undrained,
  };
}
