import type { GateMetric } from './rollout-gates.js';

/**
 * What the gates of an agent rollout are computed from: the candidate devices' reported
 * states (agent version and `update` section), summed by the hub's rollout driver.
 */
export interface AgentCounters {
  /** Candidate devices assigned and taking part (not excluded). */
  assigned: number;
  /** Devices running the release, confirmed healthy by their launcher. */
  updated: number;
  /** Devices whose launcher reverted the release during this rollout. */
  failed: number;
  /** Launcher restarts of the release (it exited on its own) on updated devices. */
  crashes: number;
  /** Error-or-worse log lines of the release on updated devices. */
  errors: number;
  /** The longest time an updated device took from the switch to being back online, s. */
  onlineS?: number;
  /** Updated devices whose outbox has not drained since the release started. */
  undrained: number;
}

/** Counters with nothing counted yet. */
export function emptyAgentCounters(): AgentCounters {
  return { assigned: 0, updated: 0, failed: 0, crashes: 0, errors: 0, undrained: 0 };
}

/**
 * Every metric an agent rollout's gate may name. `failed` is judged at once (a device whose
 * launcher reverted the release is enough to roll back, whatever the evidence gates say); the
 * others wait for the evidence gates like model gates do. An agent rollout without a `failed`
 * gate gets `failed<1`.
 */
export const AGENT_GATE_METRICS = {
  updated: {
    kind: 'evidence',
    unit: 'count',
    describe: 'devices running the release, confirmed healthy',
    value: (c) => c.updated,
  },
  failed: {
    kind: 'health',
    unit: 'count',
    describe: 'devices whose launcher reverted the release (it exited, or missed its health deadline)',
    value: (c) => c.failed,
    immediate: true,
  },
  online_s: {
    kind: 'health',
    unit: 's',
    describe: 'longest time from the switch until a device was back online on the release',
    value: (c) => c.onlineS,
  },
  crashes: {
    kind: 'health',
    unit: 'count',
    describe: 'restarts of the release by the launcher after it exited on its own',
    value: (c) => (c.updated === 0 ? undefined : c.crashes),
  },
  errors: {
    kind: 'health',
    unit: 'count',
    describe: 'error-or-worse log lines of the release',
    value: (c) => (c.updated === 0 ? undefined : c.errors),
  },
  undrained: {
    kind: 'health',
    unit: 'count',
    describe: 'updated devices whose outbox has not drained since the release started',
    value: (c) => (c.updated === 0 ? undefined : c.undrained),
  },
} as const satisfies Record<string, GateMetric<AgentCounters>>;

export type AgentGateMetricName = keyof typeof AGENT_GATE_METRICS;

/** The gate every agent rollout has unless it names a `failed` gate itself. */
export const IMPLICIT_AGENT_GATE = 'failed<1';
